// SPDX-License-Identifier: GPL-2.0-or-later
#include "layer/cmd.h"

int cmd_import(int argc, char **argv)
{
	return layer_error("import", "not yet implemented");
}
