/*
 * commands.h - every subcommand's entry point, one per tools/cmd_<name>.c.
 * Each parses its own options with getopt_long and returns an exit code.
 */
#ifndef CARBS_TOOLS_COMMANDS_H
#define CARBS_TOOLS_COMMANDS_H

#include "tools/cli.h"

int cmd_version(int argc, char **argv, const cli_globals_t *g);
int cmd_worker(int argc, char **argv, const cli_globals_t *g);
int cmd_sweep(int argc, char **argv, const cli_globals_t *g);
int cmd_asktell(int argc, char **argv, const cli_globals_t *g);
int cmd_serve(int argc, char **argv, const cli_globals_t *g);
int cmd_run(int argc, char **argv, const cli_globals_t *g);
int cmd_keygen(int argc, char **argv, const cli_globals_t *g);
int cmd_data(int argc, char **argv, const cli_globals_t *g);
int cmd_train(int argc, char **argv, const cli_globals_t *g);
int cmd_ask(int argc, char **argv, const cli_globals_t *g);
int cmd_tell(int argc, char **argv, const cli_globals_t *g);
int cmd_status(int argc, char **argv, const cli_globals_t *g);
int cmd_trials(int argc, char **argv, const cli_globals_t *g);
int cmd_pareto(int argc, char **argv, const cli_globals_t *g);
int cmd_best(int argc, char **argv, const cli_globals_t *g);
int cmd_export(int argc, char **argv, const cli_globals_t *g);
int cmd_import(int argc, char **argv, const cli_globals_t *g);
int cmd_workers(int argc, char **argv, const cli_globals_t *g);
int cmd_slurm(int argc, char **argv, const cli_globals_t *g);
int cmd_laws(int argc, char **argv, const cli_globals_t *g);
int cmd_plot(int argc, char **argv, const cli_globals_t *g);
int cmd_store(int argc, char **argv, const cli_globals_t *g);
int cmd_dashboard(int argc, char **argv, const cli_globals_t *g);

#endif
