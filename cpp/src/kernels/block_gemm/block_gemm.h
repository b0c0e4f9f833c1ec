#pragma once
#include "../table.h"
