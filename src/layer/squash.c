// SPDX-License-Identifier: GPL-2.0-or-later
#include "layer/cmd.h"

int cmd_squash(int argc, char **argv)
{
	return layer_error("squash", "not yet implemented");
}
