// msssim_levels(levels, references, taps, c1, c2, scales): MS-SSIM's per-scale factors of many
// level images against their reference (docs/semantics.md §6, the MS-SSIM information axis),
// pytorch-msssim's definition, fused over scales. levels (N, L, C, H, W) and references
// (N, C, H, W) are float32 or float64; everything is computed in float64.
//
// Each level plane runs through its own pyramid in cache-sized scratch buffers, one plane per
// task: at every scale one pass along H gives the filtered rows of x, x² and x·y together (one
// load of x and y per tap), one pass along W finishes them, the cs and ssim maps
//   cs   = (2·(E[xy] − μ_x μ_y) + c2) / ((E[x²] − μ_x²) + (E[y²] − μ_y²) + c2)
//   ssim = (2 μ_x μ_y + c1) / (μ_x² + μ_y² + c1) · cs
// are reduced to their plane means at once, and the plane is 2×2 average-pooled (zero padding
// of side % 2, divisor 4, as avg_pool2d) for the next scale. The reference's pyramid and its
// μ_y and filtered y² are computed once per (image, channel). The filter is the separable valid
// correlation with the k taps; a side shorter than k is left unfiltered. Returns (scales, N, L,
// C) plane means of cs and of ssim.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <functional>
#include <tuple>
#include <vector>

#include "parallel.h"

namespace {

struct Shape {
  int64_t height, width, out_h, out_w;
  bool along_h, along_w;
  Shape(int64_t h, int64_t w, int64_t k) : height(h), width(w), along_h(h >= k), along_w(w >= k) {
    out_h = along_h ? h - k + 1 : h;
    out_w = along_w ? w - k + 1 : w;
  }
};

int64_t halved(int64_t side) { return (side + 2 * (side % 2) - 2) / 2 + 1; }

// 2×2 average pooling with avg_pool2d's padding = side % 2 (zeros, counted in the divisor 4)
void halve(const double* in, int64_t height, int64_t width, std::vector<double>& out) {
  const int64_t pad_h = height % 2, pad_w = width % 2, out_h = halved(height), out_w = halved(width);
  out.assign(static_cast<size_t>(out_h * out_w), 0.0);
  for (int64_t i = 0; i < out_h; ++i) {
    for (int64_t j = 0; j < out_w; ++j) {
      double sum = 0.0;
      for (int64_t a = 0; a < 2; ++a) {
        const int64_t r = 2 * i - pad_h + a;
        if (r < 0 || r >= height) continue;
        for (int64_t b = 0; b < 2; ++b) {
          const int64_t c = 2 * j - pad_w + b;
          if (c >= 0 && c < width) sum += in[r * width + c];
        }
      }
      out[i * out_w + j] = sum / 4.0;
    }
  }
}

// The filtered planes of x and x², and of x·y when y is given; rows is scratch.
void filter_moments(const double* x, const double* y, const Shape& s, const double* taps, int64_t k,
                    std::vector<double>& rows, double* mean, double* square, double* product) {
  const int outputs = y != nullptr ? 3 : 2;
  const int64_t width = s.width, row_size = s.out_h * width;
  rows.assign(static_cast<size_t>(outputs * row_size), 0.0);
  double* r0 = rows.data();
  double* r1 = r0 + row_size;
  double* r2 = r1 + row_size;
  const int64_t taps_h = s.along_h ? k : 1;
  for (int64_t i = 0; i < s.out_h; ++i) {
    double* __restrict__ a0 = r0 + i * width;
    double* __restrict__ a1 = r1 + i * width;
    for (int64_t q = 0; q < taps_h; ++q) {
      const double weight = s.along_h ? taps[q] : 1.0;
      const double* __restrict__ xr = x + (i + q) * width;
      if (y != nullptr) {
        double* __restrict__ a2 = r2 + i * width;
        const double* __restrict__ yr = y + (i + q) * width;
        for (int64_t j = 0; j < width; ++j) {
          const double v = xr[j];
          a0[j] += weight * v;
          a1[j] += weight * (v * v);
          a2[j] += weight * (v * yr[j]);
        }
      } else {
        for (int64_t j = 0; j < width; ++j) {
          const double v = xr[j];
          a0[j] += weight * v;
          a1[j] += weight * (v * v);
        }
      }
    }
  }
  double* outs[3] = {mean, square, product};
  const double* ins[3] = {r0, r1, r2};
  for (int o = 0; o < outputs; ++o) {
    for (int64_t i = 0; i < s.out_h; ++i) {
      const double* __restrict__ row = ins[o] + i * width;
      double* __restrict__ target = outs[o] + i * s.out_w;
      if (!s.along_w) {
        std::copy(row, row + width, target);
        continue;
      }
      std::fill(target, target + s.out_w, 0.0);
      for (int64_t q = 0; q < k; ++q) {
        const double weight = taps[q];
        for (int64_t j = 0; j < s.out_w; ++j) target[j] += weight * row[j + q];
      }
    }
  }
}

std::tuple<at::Tensor, at::Tensor> msssim_levels(const at::Tensor& levels, const at::Tensor& references,
                                                 const at::Tensor& taps, double c1, double c2,
                                                 int64_t scales) {
  TORCH_CHECK(levels.device().is_cpu() && levels.dim() == 5 &&
                  (levels.scalar_type() == at::kFloat || levels.scalar_type() == at::kDouble),
              "msssim_levels: levels must be a float32/float64 CPU tensor (N, L, C, H, W)");
  TORCH_CHECK(references.device().is_cpu() && references.scalar_type() == levels.scalar_type() &&
                  references.dim() == 4 && references.size(0) == levels.size(0) &&
                  references.size(1) == levels.size(2) && references.size(2) == levels.size(3) &&
                  references.size(3) == levels.size(4),
              "msssim_levels: references must be (N, C, H, W) of the levels' dtype and sizes");
  TORCH_CHECK(
      taps.device().is_cpu() && taps.scalar_type() == at::kDouble && taps.dim() == 1 && taps.numel() >= 1,
      "msssim_levels: taps must be a non-empty float64 CPU vector");
  TORCH_CHECK(scales >= 1, "msssim_levels: scales must be ≥ 1");
  const at::Tensor x_all = levels.contiguous(), y_all = references.contiguous(), w = taps.contiguous();
  const int64_t n = x_all.size(0), count = x_all.size(1), channels = x_all.size(2);
  const int64_t plane = x_all.size(3) * x_all.size(4), k = w.numel();
  const double* tap = w.data_ptr<double>();
  std::vector<Shape> shapes;
  for (int64_t s = 0, h = x_all.size(3), wd = x_all.size(4); s < scales;
       ++s, h = halved(h), wd = halved(wd)) {
    shapes.emplace_back(h, wd, k);
  }

  // the reference pyramids: per (image, channel) and scale, the plane, μ_y and filtered y²
  const int64_t references_count = n * channels;
  std::vector<std::vector<std::vector<double>>> y_plane(references_count), y_mean(references_count),
      y_square(references_count);
  AT_DISPATCH_FLOATING_TYPES(x_all.scalar_type(), "msssim_levels_references", [&] {
    const scalar_t* ys = y_all.data_ptr<scalar_t>();
    idgi_fast_native::parallel_ranges(0, references_count, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> rows;
      for (int64_t p = begin; p < end; ++p) {
        y_plane[p].resize(scales);
        y_mean[p].resize(scales);
        y_square[p].resize(scales);
        y_plane[p][0].assign(ys + p * plane, ys + (p + 1) * plane);
        for (int64_t s = 0; s < scales; ++s) {
          const Shape& shape = shapes[s];
          if (s > 0)
            halve(y_plane[p][s - 1].data(), shapes[s - 1].height, shapes[s - 1].width, y_plane[p][s]);
          y_mean[p][s].resize(static_cast<size_t>(shape.out_h * shape.out_w));
          y_square[p][s].resize(static_cast<size_t>(shape.out_h * shape.out_w));
          filter_moments(y_plane[p][s].data(), nullptr, shape, tap, k, rows, y_mean[p][s].data(),
                         y_square[p][s].data(), nullptr);
        }
      }
    });
  });

  const int64_t planes = n * count * channels;
  at::Tensor cs_mean = at::empty({scales, n, count, channels}, x_all.options().dtype(at::kDouble));
  at::Tensor ssim_mean = at::empty({scales, n, count, channels}, x_all.options().dtype(at::kDouble));
  double* cs_out = cs_mean.data_ptr<double>();
  double* ssim_out = ssim_mean.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(x_all.scalar_type(), "msssim_levels", [&] {
    const scalar_t* xs = x_all.data_ptr<scalar_t>();
    idgi_fast_native::parallel_ranges(0, planes, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> rows, current, next, mu_x, xx, xy;
      for (int64_t p = begin; p < end; ++p) {
        const int64_t reference = (p / (count * channels)) * channels + p % channels;
        current.assign(xs + p * plane, xs + (p + 1) * plane);
        for (int64_t s = 0; s < scales; ++s) {
          const Shape& shape = shapes[s];
          const int64_t out_plane = shape.out_h * shape.out_w;
          mu_x.resize(static_cast<size_t>(out_plane));
          xx.resize(static_cast<size_t>(out_plane));
          xy.resize(static_cast<size_t>(out_plane));
          filter_moments(current.data(), y_plane[reference][s].data(), shape, tap, k, rows, mu_x.data(),
                         xx.data(), xy.data());
          const double* mu_y = y_mean[reference][s].data();
          const double* yy = y_square[reference][s].data();
          double cs_sum = 0.0, ssim_sum = 0.0;
          for (int64_t o = 0; o < out_plane; ++o) {
            const double mx = mu_x[o], my = mu_y[o];
            const double mxx = mx * mx, myy = my * my, mxy = mx * my;
            const double cs = ((xy[o] - mxy) * 2 + c2) / ((xx[o] - mxx) + (yy[o] - myy) + c2);
            cs_sum += cs;
            ssim_sum += (mxy * 2 + c1) / (mxx + myy + c1) * cs;
          }
          cs_out[s * planes + p] = cs_sum / static_cast<double>(out_plane);
          ssim_out[s * planes + p] = ssim_sum / static_cast<double>(out_plane);
          if (s + 1 < scales) {
            halve(current.data(), shape.height, shape.width, next);
            std::swap(current, next);
          }
        }
      }
    });
  });
  return {cs_mean, ssim_mean};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) {
  m.def(
      "msssim_levels(Tensor levels, Tensor references, Tensor taps, float c1, float c2, int scales) -> "
      "(Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("msssim_levels", &msssim_levels); }
