// Poisson (gradient-domain) composite: the same system as edgeinpaint.runtime.blend.
//
// For every hole pixel p with in-image 4-neighbours N(p), the correction c = result - output solves
//   |N(p)| c_p - sum_{q in N(p), hole} c_q = sum_{q in N(p), known} (input_q - output_q).
// Python factorises it with SuperLU; here a Jacobi-preconditioned conjugate gradient (the matrix is
// symmetric positive definite whenever some pixel is known) converges to a relative residual of
// 1e-12, far below the 1/255 rounding step, so both give the same bytes except for values within
// ~1e-9 of a rounding boundary.
#include <cmath>
#include <vector>

#include "blend.hpp"

namespace edgeinpaint {

void poisson_blend(const float* output, int hp, int wp, const cv::Mat& rgb, const cv::Mat& mask, cv::Mat& result) {
  const int h = rgb.rows, w = rgb.cols;
  std::vector<int> index(static_cast<std::size_t>(h) * w, -1);
  std::vector<int> ys, xs;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (mask.at<unsigned char>(y, x) > 127) {
        index[static_cast<std::size_t>(y) * w + x] = static_cast<int>(ys.size());
        ys.push_back(y);
        xs.push_back(x);
      }
  const std::size_t n = ys.size();
  if (n == 0 || n == static_cast<std::size_t>(h) * w) return;  // nothing to solve / nothing to match
  auto out_at = [&](int c, int y, int x) {
    return static_cast<double>(output[(static_cast<std::size_t>(c) * hp + y) * wp + x]);
  };
  const int dy[4] = {0, 0, 1, -1}, dx[4] = {1, -1, 0, 0};
  std::vector<double> diag(n, 0.0);
  std::vector<int> nbr(4 * n, -1);  // hole neighbours (-1: none)
  std::vector<double> rhs(3 * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) {
      const int qy = ys[i] + dy[k], qx = xs[i] + dx[k];
      if (qy < 0 || qy >= h || qx < 0 || qx >= w) continue;  // Neumann at the image border
      diag[i] += 1.0;
      const int q = index[static_cast<std::size_t>(qy) * w + qx];
      if (q >= 0) {
        nbr[4 * i + k] = q;
      } else {
        const cv::Vec3b px = rgb.at<cv::Vec3b>(qy, qx);
        for (int c = 0; c < 3; ++c) rhs[3 * i + c] += px[c] / 255.0 - out_at(c, qy, qx);
      }
    }
  }
  auto apply = [&](const std::vector<double>& v, std::vector<double>& av) {
    for (std::size_t i = 0; i < n; ++i) {
      double s = diag[i] * v[i];
      for (int k = 0; k < 4; ++k)
        if (nbr[4 * i + k] >= 0) s -= v[static_cast<std::size_t>(nbr[4 * i + k])];
      av[i] = s;
    }
  };
  std::vector<double> x(n), r(n), z(n), p(n), ap(n);
  for (int c = 0; c < 3; ++c) {
    double bnorm = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = 0.0;
      r[i] = rhs[3 * i + c];
      bnorm += r[i] * r[i];
    }
    bnorm = std::sqrt(bnorm);
    if (bnorm > 0.0) {
      for (std::size_t i = 0; i < n; ++i) p[i] = z[i] = r[i] / diag[i];
      double rz = 0.0;
      for (std::size_t i = 0; i < n; ++i) rz += r[i] * z[i];
      for (std::size_t it = 0; it < 20 * n + 100; ++it) {
        apply(p, ap);
        double pap = 0.0;
        for (std::size_t i = 0; i < n; ++i) pap += p[i] * ap[i];
        const double alpha = rz / pap;
        double rnorm = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          x[i] += alpha * p[i];
          r[i] -= alpha * ap[i];
          rnorm += r[i] * r[i];
        }
        if (std::sqrt(rnorm) <= 1e-12 * bnorm) break;
        double rz_new = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          z[i] = r[i] / diag[i];
          rz_new += r[i] * z[i];
        }
        const double beta = rz_new / rz;
        rz = rz_new;
        for (std::size_t i = 0; i < n; ++i) p[i] = z[i] + beta * p[i];
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      const double v = std::nearbyint(std::min(1.0, std::max(0.0, out_at(c, ys[i], xs[i]) + x[i])) * 255.0);
      result.at<cv::Vec3b>(ys[i], xs[i])[c] = static_cast<unsigned char>(v);
    }
  }
}

}  // namespace edgeinpaint
