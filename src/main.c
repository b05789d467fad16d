/* main.c - entry point: argv goes to cli_run, nothing else. */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_run(argc, argv);
}
