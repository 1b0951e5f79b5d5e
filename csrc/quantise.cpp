// quantise_hwc(images): round(255·x) as uint8 in (N, H, W, C) order, of images (N, C, H, W) in
// [0, 1], float32 or float64 — the 8-bit pixels the entropy axis encodes (docs/semantics.md §6).
// The product is taken in float64 and rounded half to even (nearbyint in the default rounding
// mode), as the reference's to_uint8 does with torch.round, so every pixel is identical; writing
// channels last here saves the encoder's copy of a permuted view.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>
#include <functional>

#include "parallel.h"

namespace {

at::Tensor quantise_hwc(const at::Tensor& images) {
  TORCH_CHECK(images.dim() == 4, "quantise_hwc: images must be (N, C, H, W)");
  const at::Tensor source = images.contiguous();
  const int64_t count = source.size(0), channels = source.size(1), height = source.size(2),
                width = source.size(3);
  at::Tensor out = at::empty({count, height, width, channels}, source.options().dtype(at::kByte));
  AT_DISPATCH_FLOATING_TYPES(source.scalar_type(), "quantise_hwc", [&] {
    const scalar_t* in = source.data_ptr<scalar_t>();
    uint8_t* o = out.data_ptr<uint8_t>();
    idgi_fast_native::parallel_ranges(0, count * height, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t n = row / height, y = row % height;
        for (int64_t c = 0; c < channels; ++c) {
          const scalar_t* src = in + ((n * channels + c) * height + y) * width;
          uint8_t* dst = o + row * width * channels + c;
          for (int64_t x = 0; x < width; ++x) {
            dst[x * channels] = static_cast<uint8_t>(std::nearbyint(static_cast<double>(src[x]) * 255.0));
          }
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) { m.def("quantise_hwc(Tensor images) -> Tensor"); }

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("quantise_hwc", &quantise_hwc); }
