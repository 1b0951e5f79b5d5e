// guided_step(x, attribution, x_in, x_base, gradient, distance, alpha, lo, hi, fraction): one
// Guided IG step (docs/semantics.md §5) of every image, in place, images in parallel. The whole
// inner loop of an image runs here: the jump of features below the lower bound, then passes of
// selecting the lowest-|G| fraction (bucket counts, then std::nth_element within one bucket), their
// room, and the masked update of x, attribution and scores, until the image's gap is closed.
//
// Bit-identical to the torch path (ops/guided_step.py), hence to the reference: the elementwise
// arithmetic is the same IEEE operations in the same order (the build turns off FMA contraction,
// which would round a·b + c once instead of twice), and the two sums of a pass (the current L1
// distance and the room) are ATen's own sum over a full-length row, as the torch path computes them.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <vector>

#include "parallel.h"

namespace {

// |a − b| ≤ max(c·max(|a|, |b|), c), c the caller's closeness (ops/guided_step.py's CLOSENESS)
bool is_close(double a, double b, double closeness) {
  return std::abs(a - b) <= std::max(closeness * std::max(std::abs(a), std::abs(b)), closeness);
}

double row_sum(std::vector<double>& values) {
  return at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kDouble)
      .sum()
      .item<double>();
}

// Scores are ≥ +0.0 (+inf included; NaN would sort after +inf, as kthvalue puts it), and such
// doubles order like their IEEE bit patterns: one pass counts their top 16 bits (sign, exponent
// and 4 mantissa bits: buckets of 1/16 octave), select_rank finds the bucket
// holding the rank, collects its few members and finishes with nth_element among them — the
// element std::nth_element over the whole row would give, at a fraction of its cost.
uint64_t top_bits(double value) {
  uint64_t key;
  std::memcpy(&key, &value, sizeof key);
  return key >> 48;
}

double select_rank(const std::vector<double>& score, int64_t rank, const std::vector<uint32_t>& counts,
                   std::vector<double>& bucket) {
  int64_t below = 0;
  uint64_t chosen = 0;
  for (; chosen < counts.size(); ++chosen) {
    if (below + counts[chosen] > rank) break;
    below += counts[chosen];
  }
  bucket.clear();
  for (const double value : score) {
    if (top_bits(value) == chosen) bucket.push_back(value);
  }
  std::nth_element(bucket.begin(), bucket.begin() + (rank - below), bucket.end());
  return bucket[rank - below];
}

void guided_image(double* x, double* attribution, const double* x_in, const double* x_base, const double* g,
                  double distance, double alpha, double lo, double hi, double fraction, double closeness,
                  int64_t n) {
  std::vector<double> x_hi(n), xs(n), x_old(n), magnitude(n), added(n, 0.0), terms(n), score(n), bucket;
  std::vector<uint32_t> counts(1 << 16);
  const double target = distance * (1.0 - alpha);
  for (int64_t i = 0; i < n; ++i) {
    const double span = x_in[i] - x_base[i];
    const double x_lo = x_base[i] + span * lo;
    x_hi[i] = x_base[i] + span * hi;
    const double position = span != 0.0 ? (x[i] - x_base[i]) / span : hi;
    x_old[i] = x[i];
    xs[i] = position < lo ? x_lo : x[i];
    magnitude[i] = std::abs(g[i]);
  }
  const int64_t rank = static_cast<int64_t>(std::floor(fraction * static_cast<double>(n - 1)));  // 0-based
  const double largest = std::numeric_limits<double>::max();
  const double infinity = std::numeric_limits<double>::infinity();
  while (true) {
    for (int64_t i = 0; i < n; ++i) terms[i] = std::abs(xs[i] - x_in[i]);
    const double current = row_sum(terms);
    const bool going = !is_close(current, target, closeness);
    for (int64_t i = 0; i < n; ++i) score[i] = xs[i] == x_hi[i] ? infinity : magnitude[i];
    std::fill(counts.begin(), counts.end(), 0u);
    for (int64_t i = 0; i < n; ++i) ++counts[top_bits(score[i])];
    const double threshold = std::min(select_rank(score, rank, counts, bucket), largest);
    for (int64_t i = 0; i < n; ++i) terms[i] = score[i] <= threshold ? std::abs(x_hi[i] - xs[i]) : 0.0;
    const double room = row_sum(terms);
    const bool can_move = going && room > 0;
    const double gamma = (current - target) / (can_move ? room : 1.0);
    const bool full = gamma > 1;
    if (can_move) {
      for (int64_t i = 0; i < n; ++i) {
        if (score[i] <= threshold) xs[i] = full ? x_hi[i] : xs[i] + (x_hi[i] - xs[i]) * gamma;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      added[i] += (xs[i] - x_old[i]) * g[i];
      x_old[i] = xs[i];
    }
    if (!(can_move && full)) break;
  }
  for (int64_t i = 0; i < n; ++i) {
    x[i] = xs[i];
    attribution[i] += added[i];
  }
}

void guided_step(at::Tensor x, at::Tensor attribution, const at::Tensor& x_in, const at::Tensor& x_base,
                 const at::Tensor& gradient, const at::Tensor& distance, double alpha, double lo, double hi,
                 double fraction, double closeness) {
  for (const at::Tensor* t :
       std::initializer_list<const at::Tensor*>{&x, &attribution, &x_in, &x_base, &gradient}) {
    TORCH_CHECK(
        t->device().is_cpu() && t->scalar_type() == at::kDouble && t->dim() == 2 && t->is_contiguous() &&
            t->sizes() == x.sizes(),
        "guided_step: x, attribution, x_in, x_base and gradient must be contiguous float64 (B, n) CPU "
        "tensors of one shape");
  }
  TORCH_CHECK(distance.device().is_cpu() && distance.scalar_type() == at::kDouble && distance.dim() == 1 &&
                  distance.size(0) == x.size(0),
              "guided_step: distance must be a float64 (B,) CPU tensor");
  const int64_t batch = x.size(0), n = x.size(1);
  const at::Tensor distances = distance.contiguous();
  const double* d = distances.data_ptr<double>();
  double* xs = x.data_ptr<double>();
  double* attributions = attribution.data_ptr<double>();
  const double* inputs = x_in.data_ptr<double>();
  const double* bases = x_base.data_ptr<double>();
  const double* gradients = gradient.data_ptr<double>();
  idgi_fast_native::parallel_ranges(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      if (d[b] == 0.0) continue;
      const int64_t row = b * n;
      guided_image(xs + row, attributions + row, inputs + row, bases + row, gradients + row, d[b], alpha, lo,
                   hi, fraction, closeness, n);
    }
  });
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) {
  m.def(
      "guided_step(Tensor(a!) x, Tensor(b!) attribution, Tensor x_in, Tensor x_base, Tensor gradient, "
      "Tensor distance, float alpha, float lo, float hi, float fraction, float closeness) -> ()");
}

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("guided_step", &guided_step); }
