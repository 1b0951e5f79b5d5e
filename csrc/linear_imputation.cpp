// linear_imputation(images, removed, tolerance, max_iterations): ROAD's noiseless linear imputation
// (docs/metrics.md §15) of images (S, C, H, W) float64 at the pixels `removed` (S, H, W) bool: each
// removed value the weighted mean of its in-image neighbours (1/6 edge, 1/12 diagonal), kept values
// fixed. Returns the imputed images and each (system, channel)'s relative residual ‖b − A·e‖ / ‖b‖.
//
// Each system is solved on its own thread with the data in cache: conjugate gradients on the
// symmetric positive definite system A·e = b over the removed pixels, preconditioned by one V-cycle
// of geometric multigrid (one damped Jacobi sweep before and after, 2×2 sum restriction, piecewise
// constant prolongation, a coarse cell unknown when its four fine cells are). The V-cycle is a
// symmetric positive definite operator, so the iteration count stays in the tens at any image size
// where plain CG needs thousands. ops/linear_imputation.py's torch implementation is the same
// algorithm over a whole batch.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

constexpr double kEdge = 1.0 / 6.0, kDiagonal = 1.0 / 12.0, kDamping = 0.9;
constexpr int64_t kCoarsest = 8, kCoarseSweeps = 30;

// One grid of the hierarchy. Arrays are (h + 2) × (w + 2) with a border of zeros, so a neighbour
// outside the image reads 0 and no access needs a bounds check; every vector is 0 off the unknown
// cells, so loops run over the box that holds them and the rest stays 0.
struct Level {
  int64_t h, w, stride;
  int64_t top = 0, bottom = -1, left = 0, right = -1;  // the unknown cells' box, inclusive
  std::vector<double> mask, diagonal, step, error, scratch, residual;

  Level(int64_t height, int64_t width) : h(height), w(width), stride(width + 2) {
    const size_t size = static_cast<size_t>((h + 2) * stride);
    for (auto* v : {&mask, &diagonal, &step, &error, &scratch, &residual}) v->assign(size, 0.0);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const double rows = (y > 0) + (y + 1 < h), cols = (x > 0) + (x + 1 < w);
        diagonal[at(y, x)] = kEdge * (rows + cols) + kDiagonal * rows * cols;
      }
    }
  }
  int64_t at(int64_t y, int64_t x) const { return (y + 1) * stride + x + 1; }
  void set_unknown(int64_t y, int64_t x) {
    const int64_t i = at(y, x);
    mask[i] = 1.0;
    step[i] = kDamping / diagonal[i];
    if (bottom < top) top = bottom = y, left = right = x;
    top = std::min(top, y), bottom = std::max(bottom, y), left = std::min(left, x),
    right = std::max(right, x);
  }
  bool empty() const { return bottom < top; }

  // out = A·v over the box: (A·v)_i = mask_i · (d_i v_i − Σ_j w_j v_j), for v zero off the unknown cells.
  // Raw restrict pointers, one row at a time, so that the compiler vectorises the stencil.
  void product_rows(const double* __restrict v, const double* __restrict rhs, double* __restrict out,
                    bool jacobi) const {
    const double* __restrict m = mask.data();
    const double* __restrict d = diagonal.data();
    const double* __restrict st = step.data();
    const int64_t s = stride;
    for (int64_t y = top; y <= bottom; ++y) {
      const int64_t row = at(y, 0);
      for (int64_t x = left; x <= right; ++x) {
        const int64_t i = row + x;
        const double edge = v[i - 1] + v[i + 1] + v[i - s] + v[i + s];
        const double corner = v[i - s - 1] + v[i - s + 1] + v[i + s - 1] + v[i + s + 1];
        const double av = m[i] * (d[i] * v[i] - kEdge * edge - kDiagonal * corner);
        out[i] = jacobi ? v[i] + st[i] * (rhs[i] - av) : av;
      }
    }
  }
  double product(const double* __restrict v, int64_t i) const {
    const int64_t s = stride;
    const double edge = v[i - 1] + v[i + 1] + v[i - s] + v[i + s];
    const double corner = v[i - s - 1] + v[i - s + 1] + v[i + s - 1] + v[i + s + 1];
    return mask[i] * (diagonal[i] * v[i] - kEdge * edge - kDiagonal * corner);
  }
  void apply(const std::vector<double>& v, std::vector<double>& out) const {
    product_rows(v.data(), nullptr, out.data(), false);
  }
  // One damped Jacobi sweep on `error` (from zero when `first`).
  void smooth(const std::vector<double>& rhs, bool first) {
    if (first) {
      for (int64_t y = top; y <= bottom; ++y) {
        const int64_t row = at(y, 0);
        for (int64_t x = left; x <= right; ++x) error[row + x] = step[row + x] * rhs[row + x];
      }
      return;
    }
    product_rows(error.data(), rhs.data(), scratch.data(), true);
    std::swap(error, scratch);
  }
  double dot(const std::vector<double>& a, const std::vector<double>& b) const {
    double sum = 0.0;
    for (int64_t y = top; y <= bottom; ++y) {
      const int64_t row = at(y, 0);
      for (int64_t x = left; x <= right; ++x) sum += a[row + x] * b[row + x];
    }
    return sum;
  }
};

std::vector<Level> hierarchy(const bool* removed, int64_t h, int64_t w) {
  std::vector<Level> levels;
  levels.emplace_back(h, w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (removed[y * w + x]) levels[0].set_unknown(y, x);
  while (std::min(levels.back().h, levels.back().w) > kCoarsest) {
    const Level& fine = levels.back();
    Level coarse((fine.h + 1) / 2, (fine.w + 1) / 2);
    for (int64_t y = 0; 2 * y + 1 < fine.h; ++y) {
      for (int64_t x = 0; 2 * x + 1 < fine.w; ++x) {
        const int64_t i = fine.at(2 * y, 2 * x), s = fine.stride;
        if (fine.mask[i] * fine.mask[i + 1] * fine.mask[i + s] * fine.mask[i + s + 1] > 0.0)
          coarse.set_unknown(y, x);
      }
    }
    if (coarse.empty()) break;
    levels.push_back(std::move(coarse));
  }
  return levels;
}

// levels[l].error ≈ A_l⁻¹ · rhs by one V-cycle (a fixed symmetric linear operator of rhs).
void v_cycle(std::vector<Level>& levels, size_t l, const std::vector<double>& rhs) {
  Level& level = levels[l];
  level.smooth(rhs, true);
  if (l + 1 == levels.size()) {
    for (int64_t sweep = 1; sweep < kCoarseSweeps; ++sweep) level.smooth(rhs, false);
    return;
  }
  Level& coarse = levels[l + 1];
  const double* e = level.error.data();
  for (int64_t y = coarse.top; y <= coarse.bottom; ++y) {
    for (int64_t x = coarse.left; x <= coarse.right; ++x) {
      const int64_t c = coarse.at(y, x), i = level.at(2 * y, 2 * x), s = level.stride;
      double sum = 0.0;
      for (const int64_t j : {i, i + 1, i + s, i + s + 1}) sum += rhs[j] - level.product(e, j);
      coarse.residual[c] = coarse.mask[c] * sum;
    }
  }
  v_cycle(levels, l + 1, coarse.residual);
  for (int64_t y = level.top; y <= level.bottom; ++y) {
    const int64_t row = level.at(y, 0), parent = coarse.at(y / 2, 0);
    for (int64_t x = level.left; x <= level.right; ++x) {
      level.error[row + x] += level.mask[row + x] * coarse.error[parent + x / 2];
    }
  }
  level.smooth(rhs, false);
}

// Preconditioned CG for one channel: returns ‖b − A·e‖ / ‖b‖ (0 when b = 0) and leaves e in `solution`.
double solve(std::vector<Level>& levels, const std::vector<double>& b, std::vector<double>& solution,
             double tolerance, int64_t max_iterations) {
  Level& fine = levels[0];
  std::vector<double> residual(b), direction(b.size(), 0.0), product(b.size(), 0.0);
  std::fill(solution.begin(), solution.end(), 0.0);
  const double norm_b = std::sqrt(fine.dot(b, b));
  if (norm_b == 0.0) return 0.0;
  v_cycle(levels, 0, residual);
  direction = fine.error;
  double rz = fine.dot(residual, fine.error), relative = 1.0;
  for (int64_t iteration = 0; iteration < max_iterations; ++iteration) {
    fine.apply(direction, product);
    const double alpha = rz / fine.dot(direction, product);
    for (int64_t y = fine.top; y <= fine.bottom; ++y) {
      const int64_t row = fine.at(y, 0);
      for (int64_t x = fine.left; x <= fine.right; ++x) {
        solution[row + x] += alpha * direction[row + x];
        residual[row + x] -= alpha * product[row + x];
      }
    }
    relative = std::sqrt(fine.dot(residual, residual)) / norm_b;
    if (relative <= tolerance) break;
    v_cycle(levels, 0, residual);
    const double rz_next = fine.dot(residual, fine.error), beta = rz_next / rz;
    rz = rz_next;
    for (int64_t y = fine.top; y <= fine.bottom; ++y) {
      const int64_t row = fine.at(y, 0);
      for (int64_t x = fine.left; x <= fine.right; ++x)
        direction[row + x] = fine.error[row + x] + beta * direction[row + x];
    }
  }
  return relative;
}

std::tuple<at::Tensor, at::Tensor> linear_imputation(const at::Tensor& images, const at::Tensor& removed,
                                                     double tolerance, int64_t max_iterations) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == at::kDouble,
              "linear_imputation: images (S, C, H, W) float64");
  TORCH_CHECK(removed.dim() == 3 && removed.scalar_type() == at::kBool,
              "linear_imputation: removed (S, H, W) bool");
  const at::Tensor source = images.contiguous(), mask = removed.contiguous();
  const int64_t systems = source.size(0), channels = source.size(1), h = source.size(2), w = source.size(3);
  TORCH_CHECK(mask.size(0) == systems && mask.size(1) == h && mask.size(2) == w,
              "linear_imputation: shapes differ");
  at::Tensor out = source.clone();
  at::Tensor residuals = at::zeros({systems, channels}, source.options());
  const double* in = source.data_ptr<double>();
  const bool* gone = mask.data_ptr<bool>();
  double* o = out.data_ptr<double>();
  double* res = residuals.data_ptr<double>();
  // A queue rather than parallel_ranges' fixed ranges (parallel.cpp): the systems differ in cost (their
  // masks), so each worker takes the next system when it finishes one.
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    for (int64_t s = next++; s < systems; s = next++) {
      std::vector<Level> levels = hierarchy(gone + s * h * w, h, w);
      Level& fine = levels[0];
      std::vector<double> known(fine.error.size()), b(fine.error.size()), solution(fine.error.size());
      for (int64_t c = 0; c < channels; ++c) {
        const double* plane = in + (s * channels + c) * h * w;
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            known[fine.at(y, x)] = (1.0 - fine.mask[fine.at(y, x)]) * plane[y * w + x];
        for (int64_t y = fine.top; y <= fine.bottom; ++y) {
          for (int64_t x = fine.left; x <= fine.right; ++x) {
            const int64_t i = fine.at(y, x);        // b_i = Σ_j w_j x_j over the kept neighbours
            b[i] = -fine.product(known.data(), i);  // known is 0 at unknown cells
          }
        }
        res[s * channels + c] = solve(levels, b, solution, tolerance, max_iterations);
        double* target = o + (s * channels + c) * h * w;
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            if (fine.mask[fine.at(y, x)] > 0.0) target[y * w + x] = solution[fine.at(y, x)];
      }
    }
  };
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), systems));
  std::vector<std::thread> pool;
  for (int64_t worker = 1; worker < workers; ++worker) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  return {out, residuals};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) {
  m.def(
      "linear_imputation(Tensor images, Tensor removed, float tolerance, int max_iterations) -> (Tensor, "
      "Tensor)");
}

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("linear_imputation", &linear_imputation); }
