// msssim_scale(levels, references, taps, c1, c2): one MS-SSIM scale of many level images
// against their reference (docs/semantics.md §6, the MS-SSIM information axis), fused.
// levels (N, L, C, H, W) and references (N, C, H, W) are float64. For each plane it filters x,
// x² and x·y with the separable valid Gaussian (valid_filter.cpp's rule: a side shorter than
// the window is left unfiltered; the reference's μ_y and filtered y² are computed once per
// (image, channel)), forms pytorch-msssim's maps
//   cs   = (2·(E[xy] − μ_x μ_y) + c2) / ((E[x²] − μ_x²) + (E[y²] − μ_y²) + c2)
//   ssim = (2 μ_x μ_y + c1) / (μ_x² + μ_y² + c1) · cs
// and returns their means over the plane, (N, L, C) each, without writing any level-sized map.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

namespace {

struct Filter {
  const double* taps;
  int64_t k, height, width, out_h, out_w;
  bool along_h, along_w;

  Filter(const double* t, int64_t taps_count, int64_t h, int64_t w)
      : taps(t), k(taps_count), height(h), width(w), along_h(h >= taps_count), along_w(w >= taps_count) {
    out_h = along_h ? h - k + 1 : h;
    out_w = along_w ? w - k + 1 : w;
  }

  // out (out_h × out_w) = the valid correlation of the plane given by value(i, j); rows is scratch
  template <typename Value>
  void apply(Value value, std::vector<double>& rows, double* out) const {
    rows.resize(static_cast<size_t>(out_h * width));
    for (int64_t i = 0; i < out_h; ++i) {
      double* row = rows.data() + i * width;
      if (!along_h) {
        for (int64_t j = 0; j < width; ++j) row[j] = value(i, j);
        continue;
      }
      std::fill(row, row + width, 0.0);
      for (int64_t q = 0; q < k; ++q) {
        const double weight = taps[q];
        for (int64_t j = 0; j < width; ++j) row[j] += weight * value(i + q, j);
      }
    }
    for (int64_t i = 0; i < out_h; ++i) {
      const double* row = rows.data() + i * width;
      double* out_row = out + i * out_w;
      if (!along_w) {
        std::copy(row, row + width, out_row);
        continue;
      }
      std::fill(out_row, out_row + out_w, 0.0);
      for (int64_t q = 0; q < k; ++q) {
        const double weight = taps[q];
        for (int64_t j = 0; j < out_w; ++j) out_row[j] += weight * row[j + q];
      }
    }
  }
};

std::tuple<at::Tensor, at::Tensor> msssim_scale(const at::Tensor& levels, const at::Tensor& references,
                                                const at::Tensor& taps, double c1, double c2) {
  TORCH_CHECK(levels.device().is_cpu() && levels.scalar_type() == at::kDouble && levels.dim() == 5,
              "msssim_scale: levels must be a float64 CPU tensor (N, L, C, H, W)");
  TORCH_CHECK(references.device().is_cpu() && references.scalar_type() == at::kDouble &&
                  references.dim() == 4 && references.size(0) == levels.size(0) &&
                  references.size(1) == levels.size(2) && references.size(2) == levels.size(3) &&
                  references.size(3) == levels.size(4),
              "msssim_scale: references must be float64 (N, C, H, W) matching the levels");
  TORCH_CHECK(taps.device().is_cpu() && taps.scalar_type() == at::kDouble && taps.dim() == 1 &&
                  taps.numel() >= 1,
              "msssim_scale: taps must be a non-empty float64 CPU vector");
  const at::Tensor x = levels.contiguous(), y = references.contiguous(), w = taps.contiguous();
  const int64_t n = x.size(0), count = x.size(1), channels = x.size(2), height = x.size(3),
                width = x.size(4);
  const Filter filter(w.data_ptr<double>(), w.numel(), height, width);
  const int64_t plane = height * width, out_plane = filter.out_h * filter.out_w;
  const double* xs = x.data_ptr<double>();
  const double* ys = y.data_ptr<double>();

  // the references' statistics, once per (image, channel)
  std::vector<double> mu_y(static_cast<size_t>(n * channels * out_plane));
  std::vector<double> yy(static_cast<size_t>(n * channels * out_plane));
  at::parallel_for(0, n * channels, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> rows;
    for (int64_t p = begin; p < end; ++p) {
      const double* image = ys + p * plane;
      filter.apply([&](int64_t i, int64_t j) { return image[i * width + j]; }, rows,
                   mu_y.data() + p * out_plane);
      filter.apply(
          [&](int64_t i, int64_t j) {
            const double v = image[i * width + j];
            return v * v;
          },
          rows, yy.data() + p * out_plane);
    }
  });

  at::Tensor cs_mean = at::empty({n, count, channels}, x.options());
  at::Tensor ssim_mean = at::empty({n, count, channels}, x.options());
  double* cs_out = cs_mean.data_ptr<double>();
  double* ssim_out = ssim_mean.data_ptr<double>();
  at::parallel_for(0, n * count * channels, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> rows, mu_x(out_plane), xx(out_plane), xy(out_plane);
    for (int64_t p = begin; p < end; ++p) {
      const int64_t image_index = p / (count * channels), channel = p % channels;
      const double* level = xs + p * plane;
      const double* reference = ys + (image_index * channels + channel) * plane;
      const int64_t statistics = (image_index * channels + channel) * out_plane;
      filter.apply([&](int64_t i, int64_t j) { return level[i * width + j]; }, rows, mu_x.data());
      filter.apply(
          [&](int64_t i, int64_t j) {
            const double v = level[i * width + j];
            return v * v;
          },
          rows, xx.data());
      filter.apply([&](int64_t i, int64_t j) { return level[i * width + j] * reference[i * width + j]; },
                   rows, xy.data());
      double cs_sum = 0.0, ssim_sum = 0.0;
      for (int64_t o = 0; o < out_plane; ++o) {
        const double mx = mu_x[o], my = mu_y[statistics + o];
        const double mxx = mx * mx, myy = my * my, mxy = mx * my;
        const double var_x = xx[o] - mxx, var_y = yy[statistics + o] - myy, cov = xy[o] - mxy;
        const double cs = (cov * 2 + c2) / (var_x + var_y + c2);
        cs_sum += cs;
        ssim_sum += (mxy * 2 + c1) / (mxx + myy + c1) * cs;
      }
      cs_out[p] = cs_sum / static_cast<double>(out_plane);
      ssim_out[p] = ssim_sum / static_cast<double>(out_plane);
    }
  });
  return {cs_mean, ssim_mean};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) {
  m.def("msssim_scale(Tensor levels, Tensor references, Tensor taps, float c1, float c2) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("msssim_scale", &msssim_scale); }
