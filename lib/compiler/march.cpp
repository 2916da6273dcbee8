#include "compiler/march.h"
