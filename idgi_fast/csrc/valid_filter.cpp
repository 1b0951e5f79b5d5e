// valid_filter(x, taps): the separable "valid" correlation of every (H, W) plane of a float64
// tensor (..., H, W) with one set of k taps, first along H, then along W; a side shorter than
// k is left unfiltered. This is MS-SSIM's Gaussian local mean (docs/semantics.md §6, the
// MS-SSIM information axis), as pytorch-msssim computes it: k multiply-adds per output and
// pass, where the torch path's banded GEMMs spend one per input pixel of the side.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

namespace {

at::Tensor valid_filter(const at::Tensor& x, const at::Tensor& taps) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kDouble && x.dim() >= 2,
              "valid_filter: x must be a float64 CPU tensor (..., H, W), got ", x.scalar_type(), " ",
              x.sizes());
  TORCH_CHECK(taps.device().is_cpu() && taps.scalar_type() == at::kDouble && taps.dim() == 1 &&
                  taps.numel() >= 1,
              "valid_filter: taps must be a non-empty float64 CPU vector");
  const at::Tensor input = x.contiguous();
  const at::Tensor weights = taps.contiguous();
  const int64_t height = x.size(-2), width = x.size(-1), k = weights.numel();
  const bool along_h = height >= k, along_w = width >= k;
  const int64_t out_h = along_h ? height - k + 1 : height;
  const int64_t out_w = along_w ? width - k + 1 : width;
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes[sizes.size() - 2] = out_h;
  sizes.back() = out_w;
  at::Tensor out = at::empty(sizes, x.options());
  const int64_t plane = height * width;
  const int64_t planes = plane == 0 ? 0 : input.numel() / plane;
  const double* source = input.data_ptr<double>();
  const double* tap = weights.data_ptr<double>();
  double* target = out.data_ptr<double>();

  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> rows(static_cast<size_t>(out_h * width));
    for (int64_t p = begin; p < end; ++p) {
      const double* image = source + p * plane;
      double* result = target + p * out_h * out_w;
      // along H: each output row is a k-term combination of whole input rows (contiguous, so
      // the inner loop over columns vectorises)
      for (int64_t i = 0; i < out_h; ++i) {
        double* row = rows.data() + i * width;
        if (!along_h) {
          std::copy(image + i * width, image + (i + 1) * width, row);
          continue;
        }
        std::fill(row, row + width, 0.0);
        for (int64_t q = 0; q < k; ++q) {
          const double weight = tap[q];
          const double* in = image + (i + q) * width;
          for (int64_t j = 0; j < width; ++j) row[j] += weight * in[j];
        }
      }
      // along W: each output is a k-term combination of neighbouring entries of its row
      for (int64_t i = 0; i < out_h; ++i) {
        const double* row = rows.data() + i * width;
        double* out_row = result + i * out_w;
        if (!along_w) {
          std::copy(row, row + width, out_row);
          continue;
        }
        std::fill(out_row, out_row + out_w, 0.0);
        for (int64_t q = 0; q < k; ++q) {
          const double weight = tap[q];
          for (int64_t j = 0; j < out_w; ++j) out_row[j] += weight * row[j + q];
        }
      }
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) { m.def("valid_filter(Tensor x, Tensor taps) -> Tensor"); }

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("valid_filter", &valid_filter); }
