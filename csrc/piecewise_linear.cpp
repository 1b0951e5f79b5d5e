// piecewise_linear(knots, values, offsets, size): curves given by their knots, sampled on the integer
// grid 0 .. size - 1, written grid point by curve, (size, n) (ops/piecewise_linear.py states the
// contract). Curve r's knots are knots[offsets[r] .. offsets[r + 1]), increasing, the first at 0 and
// the last at size - 1. Between knots j and j + 1 a point x is slope * (x - k_j) + v_j with
// slope = (v_{j+1} - v_j) / (k_{j+1} - k_j), and a knot is its value: np.interp's arithmetic, so
// each point equals np.interp's.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <functional>

#include "parallel.h"

namespace {

at::Tensor piecewise_linear(const at::Tensor& knots_in, const at::Tensor& values_in,
                            const at::Tensor& offsets_in, int64_t size) {
  TORCH_CHECK(knots_in.scalar_type() == at::kLong && offsets_in.scalar_type() == at::kLong &&
                  values_in.scalar_type() == at::kDouble && knots_in.numel() == values_in.numel(),
              "piecewise_linear: knots int64, values float64 of the same length, offsets int64");
  const at::Tensor knots = knots_in.contiguous(), values = values_in.contiguous(),
                   offsets = offsets_in.contiguous();
  const int64_t curves = offsets.numel() - 1;
  at::Tensor out = at::empty({size, curves}, values.options());
  const int64_t* k = knots.data_ptr<int64_t>();
  const double* v = values.data_ptr<double>();
  const int64_t* start = offsets.data_ptr<int64_t>();
  double* o = out.data_ptr<double>();
  // Curves in tiles of kTile: each grid point's row then gets kTile neighbouring values per write
  // (one cache line), where curve by curve it would get one value per line.
  constexpr int64_t kTile = 16;
  idgi_fast_native::parallel_ranges(0, (curves + kTile - 1) / kTile, 16, [&](int64_t begin, int64_t end) {
    int64_t segment[kTile];
    double slope[kTile];
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t first = tile * kTile, width = std::min(kTile, curves - first);
      for (int64_t t = 0; t < width; ++t) {
        segment[t] = start[first + t] - 1;  // moved onto the first segment at x = 0
        slope[t] = 0.0;
      }
      for (int64_t x = 0; x < size; ++x) {
        double* row = o + x * curves + first;
        for (int64_t t = 0; t < width; ++t) {
          int64_t j = segment[t];
          if (j + 1 < start[first + t + 1] && k[j + 1] == x) {  // a knot: its value, and the next slope
            segment[t] = ++j;
            row[t] = v[j];
            if (j + 1 < start[first + t + 1])
              slope[t] = (v[j + 1] - v[j]) / static_cast<double>(k[j + 1] - k[j]);
          } else {
            row[t] = slope[t] * static_cast<double>(x - k[j]) + v[j];
          }
        }
      }
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) {
  m.def("piecewise_linear(Tensor knots, Tensor values, Tensor offsets, int size) -> Tensor");
}

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("piecewise_linear", &piecewise_linear); }
