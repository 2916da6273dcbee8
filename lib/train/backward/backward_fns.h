// Declarations of the backward of every op in train/backward.def (defined in
// train/backward/*.cpp, one family per file).
#pragma once

#include "train/backward.h"

namespace hq::train {
#define HQ_BACKWARD(Name) Status backward##Name(const BackwardCall& call);
#include "train/backward.def"
#undef HQ_BACKWARD
}  // namespace hq::train
