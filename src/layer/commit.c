// SPDX-License-Identifier: GPL-2.0-or-later
#include "layer/cmd.h"

int cmd_commit(int argc, char **argv)
{
	return layer_error("commit", "not yet implemented");
}
