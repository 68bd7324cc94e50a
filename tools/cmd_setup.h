/* cmd_setup.h - the `cloudrec setup` subcommand of the cloudrec CLI (cmd_setup.c). */
#ifndef CLOUDREC_TOOLS_CMD_SETUP_H
#define CLOUDREC_TOOLS_CMD_SETUP_H

#include <stdio.h>

/* Runs `cloudrec setup` with argv[0] == "setup"; returns the exit status. */
int cloudrec_cmd_setup(int argc, char **argv);

#endif
