// blur_path(images, matrices_h, matrices_w, first, second, grad_step): the blur path's points
// G_σ(x) = A x Aᵀ and forward differences dX_σ = (G_{σ+h}(x) − G_σ(x)) / h (docs/semantics.md §4)
// by separable filtering along H, then W, in float64, rounded once to the images' dtype.
//
// images (N, C, H, W), float32 or float64: one image per point. matrices_h (S, H, H) and
// matrices_w (S, W, W) float64: the 1-D blur matrices (geometry.blur_matrix: sampled Gaussian
// taps with the padding folded in, so any radius, also one beyond the image, is exact). Point p
// uses matrix first[p] for G and second[p] for G_{σ+h}; second[p] < 0 (every p) skips the
// differences. Each row of a blur matrix is zero outside one contiguous band of columns (at most
// 2r + 1 wide), and only that band is visited: a kernel of radius r costs 2r + 1 multiply-adds
// per output and pass, not the whole row. Both passes are row updates (out_row += a · in_row) —
// the pass along W on the transposed plane — which vectorise without reassociating any sum.
// Planes (point, channel) run in parallel.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <functional>
#include <tuple>
#include <vector>

#include "parallel.h"

namespace {

// The non-zero band [begin, end) of each row of each (size × size) matrix of a stack.
struct Bands {
  std::vector<int64_t> begin, end;
  int64_t size;
  Bands(const double* matrices, int64_t count, int64_t size)
      : begin(count * size), end(count * size), size(size) {
    for (int64_t row = 0; row < count * size; ++row) {
      const double* values = matrices + row * size;
      int64_t first = 0, last = size;
      while (first < size && values[first] == 0.0) ++first;
      while (last > first && values[last - 1] == 0.0) --last;
      begin[row] = first;
      end[row] = last;
    }
  }
};

// out (rows × width) = M (rows × rows) · in (rows × width), for one or two M's (m2 may be null)
// over the same input. Each output element is Σ_j M[i, j]·in[j, w] summed in order of j over the
// band; a block of `lanes` columns of the output stays in registers for the whole band.
template <int lanes>
void band_block(const double* in, int64_t width, const double* m1, const double* m2, int64_t begin,
                int64_t end, int64_t w0, double* o1, double* o2) {
  double acc1[lanes] = {}, acc2[lanes] = {};
  for (int64_t j = begin; j < end; ++j) {
    const double* x = in + j * width + w0;
    const double a1 = m1[j];
    for (int u = 0; u < lanes; ++u) acc1[u] += a1 * x[u];
    if (m2) {
      const double a2 = m2[j];
      for (int u = 0; u < lanes; ++u) acc2[u] += a2 * x[u];
    }
  }
  for (int u = 0; u < lanes; ++u) o1[w0 + u] = acc1[u];
  if (m2) {
    for (int u = 0; u < lanes; ++u) o2[w0 + u] = acc2[u];
  }
}

void along_h(const double* in, int64_t rows, int64_t width, const double* m1, const double* m2,
             const Bands& bands, int64_t index1, int64_t index2, double* out1, double* out2) {
  constexpr int lanes = 32;
  for (int64_t i = 0; i < rows; ++i) {
    int64_t begin = bands.begin[index1 * rows + i], end = bands.end[index1 * rows + i];
    if (m2) {
      begin = std::min(begin, bands.begin[index2 * rows + i]);
      end = std::max(end, bands.end[index2 * rows + i]);
    }
    const double* row1 = m1 + i * rows;
    const double* row2 = m2 ? m2 + i * rows : nullptr;
    double* o1 = out1 + i * width;
    double* o2 = m2 ? out2 + i * width : nullptr;
    int64_t w0 = 0;
    for (; w0 + lanes <= width; w0 += lanes) band_block<lanes>(in, width, row1, row2, begin, end, w0, o1, o2);
    for (; w0 < width; ++w0) band_block<1>(in, width, row1, row2, begin, end, w0, o1, o2);
  }
}

void transpose(const double* in, int64_t rows, int64_t cols, double* out) {
  constexpr int64_t tile = 32;  // cache-sized tiles: both sides are read and written in short runs
  for (int64_t i0 = 0; i0 < rows; i0 += tile) {
    for (int64_t j0 = 0; j0 < cols; j0 += tile) {
      const int64_t i1 = std::min(i0 + tile, rows), j1 = std::min(j0 + tile, cols);
      for (int64_t i = i0; i < i1; ++i) {
        for (int64_t j = j0; j < j1; ++j) out[j * rows + i] = in[i * cols + j];
      }
    }
  }
}

std::tuple<at::Tensor, at::Tensor> blur_path(const at::Tensor& images, const at::Tensor& matrices_h,
                                             const at::Tensor& matrices_w, const at::Tensor& first,
                                             const at::Tensor& second, double grad_step) {
  TORCH_CHECK(images.dim() == 4, "blur_path: images must be (N, C, H, W)");
  TORCH_CHECK(matrices_h.scalar_type() == at::kDouble && matrices_w.scalar_type() == at::kDouble,
              "blur_path: the blur matrices must be float64");
  const int64_t points = images.size(0), channels = images.size(1), height = images.size(2),
                width = images.size(3);
  TORCH_CHECK(matrices_h.dim() == 3 && matrices_h.size(1) == height && matrices_h.size(2) == height,
              "blur_path: matrices_h must be (S, H, H)");
  TORCH_CHECK(matrices_w.dim() == 3 && matrices_w.size(0) == matrices_h.size(0) &&
                  matrices_w.size(1) == width && matrices_w.size(2) == width,
              "blur_path: matrices_w must be (S, W, W)");
  TORCH_CHECK(first.numel() == points && second.numel() == points, "blur_path: one matrix index per point");
  const int64_t count = matrices_h.size(0);
  const at::Tensor m_h = matrices_h.contiguous(), m_w = matrices_w.contiguous();
  const at::Tensor first_ = first.to(at::kLong).contiguous(), second_ = second.to(at::kLong).contiguous();
  const int64_t* first_index = first_.data_ptr<int64_t>();
  const int64_t* second_index = second_.data_ptr<int64_t>();
  const bool slopes = points > 0 && second_index[0] >= 0;
  for (int64_t p = 0; p < points; ++p) {
    TORCH_CHECK(first_index[p] >= 0 && first_index[p] < count && second_index[p] < count &&
                    (second_index[p] >= 0) == slopes,
                "blur_path: matrix index out of range");
  }
  const Bands bands_h(m_h.data_ptr<double>(), count, height), bands_w(m_w.data_ptr<double>(), count, width);
  const at::Tensor source = images.contiguous();
  at::Tensor result = at::empty_like(source);
  at::Tensor differences = slopes ? at::empty_like(source) : at::empty({0}, source.options());
  AT_DISPATCH_FLOATING_TYPES(source.scalar_type(), "blur_path", [&] {
    const scalar_t* in = source.data_ptr<scalar_t>();
    scalar_t* out = result.data_ptr<scalar_t>();
    scalar_t* out_d = slopes ? differences.data_ptr<scalar_t>() : nullptr;
    const double* mh = m_h.data_ptr<double>();
    const double* mw = m_w.data_ptr<double>();
    const int64_t plane = height * width;
    // at least 4 planes a thread: Blur IG calls this once per σ, mostly with one point's 3 planes,
    // and a range's six plane buffers (fresh pages each call) cost more than a second thread saves
    idgi_fast_native::parallel_ranges(0, points * channels, 4, [&](int64_t start, int64_t stop) {
      // along H: t = A x (and A' x); transposed, so that the pass along W is again one along rows
      std::vector<double> x(plane), t1(plane), t2(slopes ? plane : 0), u(plane), v1(plane),
          v2(slopes ? plane : 0);
      for (int64_t task = start; task < stop; ++task) {
        const int64_t p = task / channels;
        const scalar_t* src = in + task * plane;
        for (int64_t e = 0; e < plane; ++e) x[e] = static_cast<double>(src[e]);
        const int64_t s1 = first_index[p], s2 = second_index[p];
        along_h(x.data(), height, width, mh + s1 * height * height,
                slopes ? mh + s2 * height * height : nullptr, bands_h, s1, s2, t1.data(), t2.data());
        transpose(t1.data(), height, width, u.data());
        along_h(u.data(), width, height, mw + s1 * width * width, nullptr, bands_w, s1, s1, v1.data(),
                nullptr);
        if (slopes) {
          transpose(t2.data(), height, width, u.data());
          along_h(u.data(), width, height, mw + s2 * width * width, nullptr, bands_w, s2, s2, v2.data(),
                  nullptr);
        }
        // v = Gᵀ: back to (H, W) while rounding to the images' dtype
        scalar_t* o = out + task * plane;
        for (int64_t i = 0; i < height; ++i) {
          for (int64_t k = 0; k < width; ++k) o[i * width + k] = static_cast<scalar_t>(v1[k * height + i]);
        }
        if (slopes) {
          scalar_t* od = out_d + task * plane;
          for (int64_t i = 0; i < height; ++i) {
            for (int64_t k = 0; k < width; ++k) {
              od[i * width + k] =
                  static_cast<scalar_t>((v2[k * height + i] - v1[k * height + i]) / grad_step);
            }
          }
        }
      }
    });
  });
  return {result, differences};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) {
  m.def(
      "blur_path(Tensor images, Tensor matrices_h, Tensor matrices_w, Tensor first, Tensor second, "
      "float grad_step) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("blur_path", &blur_path); }
