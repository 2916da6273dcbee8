// Gemm's operands resolved once, for the reference forward kernel and its backward:
// Y[M, N] = alpha * A'[M, K] B'[K, N] + beta * C, A' = transA ? A^T : A, B' likewise, and C
// broadcast to [M, N].
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"
#include "ir/ops/window.h"
#include "support/status.h"

namespace hq::kernels {

struct GemmGeometry {
  int64_t m = 0, k = 0, n = 0;
  bool transA = false, transB = false;
  float alpha = 1.0f, beta = 1.0f;
  int64_t aM = 0, aK = 0;  ///< A'(m, k) is at m * aM + k * aK in A
  int64_t bK = 0, bN = 0;  ///< B'(k, n) is at k * bK + n * bN in B
  int64_t cM = 0, cN = 0;  ///< C(m, n) is at m * cM + n * cN (0 along broadcast axes)
};

/// The geometry of Gemm `node` with A, B (and C when `c` is not null) of these shapes.
/// Errors: attribute errors (naming the node), and kShape, prefixed by `who` (e.g.
/// "Gemm 'fc': "), for A or B not 2-D, inner dimensions that differ, or a C that does not
/// broadcast to [M, N].
inline Expected<GemmGeometry> gemmGeometry(const Node& node, const Shape& a, const Shape& b,
                                           const Shape* c, const std::string& who) {
  if (a.size() != 2 || b.size() != 2) {
    return Status(ErrorCode::kShape,
                  who + fmt::format("A {} and B {} must be 2-D", shapeString(a), shapeString(b)));
  }
  GemmGeometry g;
  HQ_ASSIGN_OR_RETURN(int64_t trans_a, ops::intAttr(node, "transA", 0));
  HQ_ASSIGN_OR_RETURN(int64_t trans_b, ops::intAttr(node, "transB", 0));
  HQ_ASSIGN_OR_RETURN(g.alpha, ops::floatAttr(node, "alpha", 1.0f));
  HQ_ASSIGN_OR_RETURN(g.beta, ops::floatAttr(node, "beta", 1.0f));
  g.transA = trans_a != 0;
  g.transB = trans_b != 0;
  g.m = a[g.transA ? 1 : 0];
  g.k = a[g.transA ? 0 : 1];
  g.n = b[g.transB ? 0 : 1];
  if (b[g.transB ? 1 : 0] != g.k) {
    return Status(ErrorCode::kShape, who + fmt::format("inner dimensions of A {} and B {} differ",
                                                       shapeString(a), shapeString(b)));
  }
  g.aM = g.transA ? 1 : g.k;
  g.aK = g.transA ? g.m : 1;
  g.bK = g.transB ? 1 : g.n;
  g.bN = g.transB ? g.k : 1;
  if (c) {
    const int64_t rows = c->size() == 2 ? (*c)[0] : 1, cols = c->empty() ? 1 : c->back();
    if (c->size() > 2 || (rows != 1 && rows != g.m) || (cols != 1 && cols != g.n)) {
      return Status(ErrorCode::kShape, who + fmt::format("C {} does not broadcast to [{}, {}]",
                                                         shapeString(*c), g.m, g.n));
    }
    g.cM = rows == 1 ? 0 : cols;
    g.cN = cols == 1 ? 0 : 1;
  }
  return g;
}

}  // namespace hq::kernels
