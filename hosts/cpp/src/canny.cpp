#include "edgeinpaint/canny.hpp"

#include <cmath>
#include <cstddef>
#include <deque>
#include <stdexcept>

namespace edgeinpaint {
namespace {

// scipy.ndimage.correlate1d along one axis, for a symmetric (sign = +1) or antisymmetric (sign =
// -1, centre 0) kernel: out = in[i]*w0, then (in[i-j] +/- in[i+j]) * w_j added from the
// outermost tap inwards (ni_filters.c). Border: 'constant' (zero) or 'edge' (replicate, which is
// scipy's 'reflect' for a one-pixel reach).
std::vector<double> correlate1d(const std::vector<double>& in, int h, int w, const std::vector<double>& weights,
                                bool along_rows, bool zero_border, int sign) {
  const int r = static_cast<int>(weights.size() - 1) / 2;
  std::vector<double> out(in.size());
  const int n = along_rows ? h : w;
  auto at = [&](int y, int x, int offset) -> double {
    int yy = along_rows ? y + offset : y;
    int xx = along_rows ? x : x + offset;
    int pos = along_rows ? yy : xx;
    if (pos < 0 || pos >= n) {
      if (zero_border) return 0.0;
      pos = pos < 0 ? 0 : n - 1;
      if (along_rows) yy = pos; else xx = pos;
    }
    return in[static_cast<std::size_t>(yy) * w + xx];
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double acc = at(y, x, 0) * weights[r];
      for (int j = r; j >= 1; --j) {
        const double pair = sign > 0 ? at(y, x, -j) + at(y, x, j) : at(y, x, -j) - at(y, x, j);
        acc = acc + pair * weights[r - j];
      }
      out[static_cast<std::size_t>(y) * w + x] = acc;
    }
  }
  return out;
}

}  // namespace

std::vector<unsigned char> canny(const std::vector<double>& gray, const std::vector<unsigned char>& known, int h, int w,
                                 const CannyParams& p) {
  const std::size_t n = static_cast<std::size_t>(h) * w;
  if (gray.size() != n || known.size() != n) throw std::invalid_argument("canny: buffer sizes do not match H*W");
  if (p.kernel.empty() || p.kernel.size() % 2 == 0) throw std::invalid_argument("canny: missing Gaussian kernel");
  // 1. masked Gaussian, normalised by the blurred mask (+ float64 eps, as skimage)
  std::vector<double> masked(n), known_d(n);
  for (std::size_t i = 0; i < n; ++i) {
    known_d[i] = known[i] ? 1.0 : 0.0;
    masked[i] = gray[i] * known_d[i];
  }
  auto blur = [&](const std::vector<double>& v) {
    return correlate1d(correlate1d(v, h, w, p.kernel, true, true, 1), h, w, p.kernel, false, true, 1);
  };
  const std::vector<double> num = blur(masked), den = blur(known_d);
  std::vector<double> smoothed(n);
  const double eps = 2.220446049250313e-16;
  for (std::size_t i = 0; i < n; ++i) smoothed[i] = num[i] / (den[i] + eps);
  // 2. Sobel: derivative [-1, 0, 1] along one axis, smoothing [1, 2, 1] along the other
  const std::vector<double> deriv = {-1.0, 0.0, 1.0}, smooth = {1.0, 2.0, 1.0};
  const std::vector<double> isobel =
      correlate1d(correlate1d(smoothed, h, w, deriv, true, false, -1), h, w, smooth, false, false, 1);
  const std::vector<double> jsobel =
      correlate1d(correlate1d(smoothed, h, w, deriv, false, false, -1), h, w, smooth, true, false, 1);
  std::vector<double> mag(n);
  for (std::size_t i = 0; i < n; ++i) mag[i] = std::sqrt(isobel[i] * isobel[i] + jsobel[i] * jsobel[i]);
  // 4. allowed region: known eroded by 3x3, outside the image counts as unknown
  std::vector<unsigned char> allowed(n, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool ok = true;
      for (int dy = -1; dy <= 1 && ok; ++dy)
        for (int dx = -1; dx <= 1 && ok; ++dx) {
          const int yy = y + dy, xx = x + dx;
          ok = yy >= 0 && yy < h && xx >= 0 && xx < w && known[static_cast<std::size_t>(yy) * w + xx];
        }
      allowed[static_cast<std::size_t>(y) * w + x] = ok;
    }
  // 3. bilinear non-maximum suppression (skimage _nonmaximum_suppression_bilinear); skimage passes
  //    the low threshold through a C float.
  // skimage's NMS kernel replaces a zero low threshold by 1e-14 (so m == 0 is never a candidate),
  // through the same C float.
  const float low_f = static_cast<float>(p.low) != 0.0f ? static_cast<float>(p.low) : 1e-14f;
  const double low = static_cast<double>(low_f);
  auto M = [&](int y, int x) { return mag[static_cast<std::size_t>(y) * w + x]; };
  std::vector<unsigned char> candidate(n, 0), strong(n, 0);
  for (int y = 1; y < h - 1; ++y)
    for (int x = 1; x < w - 1; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      if (!allowed[i]) continue;
      const double m = mag[i];
      if (!(m >= low)) continue;
      const double is = isobel[i], js = jsobel[i];
      const bool down = is <= 0, up = is >= 0, left = js <= 0, right = js >= 0;
      const bool c1 = (up && right) || (down && left);
      const bool c2 = (down && right) || (up && left);
      if (!c1 && !c2) continue;
      const double ai = std::fabs(is), aj = std::fabs(js);
      double wgt, n11, n12, n21, n22;
      if (c1) {
        if (ai >= aj) {
          wgt = aj / ai; n11 = M(y + 1, x); n12 = M(y + 1, x + 1); n21 = M(y - 1, x); n22 = M(y - 1, x - 1);
        } else {
          wgt = ai / aj; n11 = M(y, x + 1); n12 = M(y + 1, x + 1); n21 = M(y, x - 1); n22 = M(y - 1, x - 1);
        }
      } else {
        if (ai <= aj) {
          wgt = ai / aj; n11 = M(y, x + 1); n12 = M(y - 1, x + 1); n21 = M(y, x - 1); n22 = M(y + 1, x - 1);
        } else {
          wgt = aj / ai; n11 = M(y - 1, x); n12 = M(y - 1, x + 1); n21 = M(y + 1, x); n22 = M(y + 1, x - 1);
        }
      }
      if (n12 * wgt + n11 * (1.0 - wgt) <= m && n22 * wgt + n21 * (1.0 - wgt) <= m) {
        candidate[i] = 1;
        strong[i] = m >= p.high;
      }
    }
  // 5. hysteresis: keep 8-connected candidate components that contain a strong pixel
  std::vector<unsigned char> edges(n, 0);
  std::deque<std::size_t> todo;
  for (std::size_t i = 0; i < n; ++i)
    if (strong[i]) {
      edges[i] = 1;
      todo.push_back(i);
    }
  while (!todo.empty()) {
    const std::size_t i = todo.front();
    todo.pop_front();
    const int y = static_cast<int>(i / w), x = static_cast<int>(i % w);
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const std::size_t j = static_cast<std::size_t>(yy) * w + xx;
        if (candidate[j] && !edges[j]) {
          edges[j] = 1;
          todo.push_back(j);
        }
      }
  }
  return edges;
}

}  // namespace edgeinpaint
