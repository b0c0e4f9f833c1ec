#pragma once
// The GRU step's per-unit gate maths over many units (ccinfer/gate_math.h gives the maths of
// one unit; every variant returns its bits exactly): the scalar reference, AVX2 (8 units at a
// time) and AVX-512 (16).
#include "../table.h"
