/*
 * cmd_slurm.c - `carbs slurm submit`: launch workers as a Slurm job array,
 * the way to join workers from the nodes of a Slurm cluster (docs/slurm.md).
 *
 * The job script is tools/slurm-workers.sbatch, compiled in below (tests
 * check the two are the same byte for byte, and `carbs slurm script`
 * prints it).  submit writes it to a private temporary file, runs
 * `sbatch --parsable --array=0-(N-1) [your sbatch options] SCRIPT` with
 * CARBS_CONNECT, CARBS_BIN (this binary) and CARBS_WORKER_ARGS in its
 * environment, removes the file (sbatch keeps its own copy) and prints the
 * job id.  Each task's worker id is slurm-JOB_TASK, so a re-queued task
 * re-attaches to its running trial (docs/slurm.md).
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/format.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs slurm submit --connect ENDPOINT --workers N [--worker-args ARGS] [--dry-run]\n"
    "                        [-- SBATCH-OPTIONS...]\n"
    "       carbs slurm script";

/* tools/slurm-workers.sbatch, byte for byte. */
static const char job_script[] =
    "#!/bin/sh\n"
    "# slurm-workers.sbatch - carbs workers as a Slurm job array (docs/slurm.md).\n"
    "#\n"
    "#   CARBS_CONNECT=tcp://head:5555 sbatch --array=0-7 tools/slurm-workers.sbatch\n"
    "#\n"
    "# or let `carbs slurm submit --connect tcp://head:5555 --workers 8` write\n"
    "# and submit this same script (`carbs slurm script` prints it).  Each array\n"
    "# task runs one `carbs worker` that joins the service at $CARBS_CONNECT.\n"
    "# Its worker id is slurm-<array job id>_<task id> (slurm-<job id> outside\n"
    "# an array), the id `carbs worker` derives by itself under Slurm, so a\n"
    "# task that is re-queued (preemption, node failure, `scontrol requeue`)\n"
    "# comes back under the same id and gets its running trial back while the\n"
    "# trial's lease lasts.\n"
    "#\n"
    "# Environment (sbatch passes the submitter's environment by default):\n"
    "#   CARBS_CONNECT      the service endpoint (required)\n"
    "#   CARBS_BIN          the carbs binary (default: carbs on PATH)\n"
    "#   CARBS_WORKER_ARGS  more `carbs worker` options, e.g. \"--slots 2 --keys /etc/carbs\"\n"
    "# Options given to sbatch on its command line override the #SBATCH lines.\n"
    "#SBATCH --job-name=carbs-worker\n"
    "#SBATCH --ntasks=1\n"
    "#SBATCH --requeue\n"
    "#SBATCH --open-mode=append\n"
    "#SBATCH --output=carbs-worker-%A_%a.log\n"
    "set -eu\n"
    ": \"${CARBS_CONNECT:?set CARBS_CONNECT to the service endpoint, e.g. tcp://head:5555}\"\n"
    "if [ -n \"${SLURM_ARRAY_JOB_ID:-}\" ]; then\n"
    "    id=\"slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
    "else\n"
    "    id=\"slurm-${SLURM_JOB_ID:?not running under Slurm}\"\n"
    "fi\n"
    "# exec: Slurm's SIGTERM (scancel, preemption, time limit) reaches the\n"
    "# worker itself, which hands its running trials back before it exits.\n"
    "# CARBS_WORKER_ARGS is split into words on purpose.\n"
    "# shellcheck disable=SC2086\n"
    "exec \"${CARBS_BIN:-carbs}\" worker --connect \"$CARBS_CONNECT\" --id \"$id\" "
    "${CARBS_WORKER_ARGS:-}\n";

typedef DA_TYPE(char *) args_t;

/* Append a copy of s (NULL ends an argv). */
static void push_arg(args_t *args, const char *s)
{
    if (DA_PUSH(args, s ? xstrdup(s) : NULL))
        abort(); /* not reached: an argv of a few words */
}

/* Write the job script to a new private file; its path goes to path[cap]. */
static int write_script(char *path, size_t cap, carbs_err_t *err)
{
    const char *tmp = getenv("TMPDIR");
    size_t len = strlen(job_script);
    int fd, rc = 0;

    snprintf(path, cap, "%s/carbs-slurm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    if (fd < 0)
        return carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", path, strerror(errno));
    if (write(fd, job_script, len) != (ssize_t)len || fchmod(fd, 0700) != 0)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc)
        unlink(path);
    return rc;
}

/* Run argv (sbatch ...) with env[] set, capture its stdout into out[cap]
 * (stderr passes through).  Returns 0 when it exited 0. */
static int run_sbatch(char *const *argv, const char *const env[][2], size_t n_env, char *out,
                      size_t cap, carbs_err_t *err)
{
    int fds[2], status = 0;
    size_t got = 0;
    ssize_t k;
    pid_t pid;

    if (pipe(fds) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot make a pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return carbs_fail(err, CARBS_EIO, "cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        for (size_t i = 0; i < n_env; i++)
            setenv(env[i][0], env[i][1], 1);
        execvp(argv[0], argv);
        fprintf(stderr, "carbs: error: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        k = read(fds[0], out + got, cap - 1 - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
        if (got == cap - 1) {
            char sink[256];
            while (read(fds[0], sink, sizeof(sink)) > 0)
                ; /* drain what does not fit so sbatch can finish */
            break;
        }
    }
    out[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return carbs_fail(err, CARBS_EIO, "'%s' failed (%s %d)", argv[0],
                          WIFEXITED(status) ? "exit status" : "signal",
                          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
}

/* sbatch --parsable prints "JOBID" or "JOBID;CLUSTER". */
static int parse_job_id(char *text, long *job, carbs_err_t *err)
{
    char *end = text + strcspn(text, ";\r\n");

    *end = '\0';
    if (parse_long(text, 1, INT32_MAX, job))
        return carbs_fail(err, CARBS_EPROTO, "sbatch printed '%s', not a job id", text);
    return 0;
}

static int slurm_submit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"workers", required_argument, NULL, 'n'},
        {"worker-args", required_argument, NULL, 'a'},
        {"dry-run", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *connect = NULL, *worker_args = "";
    char self[4096], script[4096] = "", array[64], out[256];
    args_t args = {0};
    carbs_err_t err = {0};
    bool dry = false;
    long workers = 0, job = 0;
    ssize_t n;
    jw_t jw;
    int c, rc = CLI_EXIT_OK;

    jw_init(&jw);

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\n"
                   "submit: run N `carbs worker --connect ENDPOINT` as one Slurm job array\n"
                   "        (tasks 0..N-1, worker ids slurm-JOB_TASK) and print\n"
                   "        {\"job_id\": J, \"workers\": N, \"connect\": ENDPOINT}.  Options after\n"
                   "        -- go to sbatch (--partition, --time, --gres ...); --worker-args adds\n"
                   "        `carbs worker` options (\"--slots 2 --keys DIR\"); --dry-run prints\n"
                   "        the sbatch command instead of running it.\n"
                   "script: print the job script (tools/slurm-workers.sbatch).\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'c':
            connect = optarg;
            break;
        case 'n':
            if (parse_long(optarg, 1, 100000, &workers))
                return cli_usage_error(usage_text, "--workers '%s' is not a count in [1, 100000]",
                                       optarg);
            break;
        case 'a':
            worker_args = optarg;
            break;
        case 'D':
            dry = true;
            break;
        default:
            return rc;
        }
    }
    if (!connect || !*connect)
        return cli_usage_error(usage_text, "submit needs --connect ENDPOINT");
    if (!workers)
        return cli_usage_error(usage_text, "submit needs --workers N");
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return cli_error(CLI_EXIT_FAIL, "cannot find this carbs binary: %s", strerror(errno));
    self[n] = '\0';
    snprintf(array, sizeof(array), "--array=0-%ld", workers - 1);

    {
        const char *const env[][2] = {
            {"CARBS_CONNECT", connect},
            {"CARBS_BIN", self},
            {"CARBS_WORKER_ARGS", worker_args},
        };

        push_arg(&args, "sbatch");
        push_arg(&args, "--parsable");
        push_arg(&args, array);
        for (int i = optind; i < argc; i++)
            push_arg(&args, argv[i]);
        if (dry) {
            for (size_t i = 0; i < ARRAY_SIZE(env); i++) {
                printf("%s=", env[i][0]);
                format_shell_word(stdout, env[i][1]);
                putchar(' ');
            }
            for (size_t i = 0; i < args.n; i++) {
                format_shell_word(stdout, args.v[i]);
                putchar(' ');
            }
            puts("SCRIPT");
            goto out;
        }
        if (write_script(script, sizeof(script), &err)) {
            rc = cli_fail(&err);
            goto out;
        }
        push_arg(&args, script);
        push_arg(&args, NULL);
        if (run_sbatch(args.v, env, ARRAY_SIZE(env), out, sizeof(out), &err) ||
            parse_job_id(out, &job, &err)) {
            rc = cli_fail(&err);
            goto out;
        }
    }
    log_info("slurm: job %ld runs %ld workers (slurm-%ld_0 .. slurm-%ld_%ld) against %s", job,
             workers, job, job, workers - 1, connect);
    jw_object(&jw, NULL);
    jw_int(&jw, "job_id", job);
    jw_int(&jw, "workers", workers);
    jw_str(&jw, "connect", connect);
    jw_end(&jw);
    if (format_json_line(&jw, stdout, &err))
        rc = cli_fail(&err);
out:
    jw_release(&jw);
    if (script[0])
        unlink(script);
    for (size_t i = 0; i < args.n; i++)
        free(args.v[i]);
    DA_FREE(&args);
    return rc;
}

int cmd_slurm(int argc, char **argv, const cli_globals_t *g)
{
    UNUSED(g);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s\n\nLaunch carbs workers under Slurm; see docs/slurm.md.\n", usage_text);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error(usage_text, "missing verb (submit, script)");
    if (strcmp(argv[1], "submit") == 0)
        return slurm_submit(argc - 1, argv + 1);
    if (strcmp(argv[1], "script") == 0) {
        if (argc > 2 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
            printf("usage: carbs slurm script\n\nPrint the Slurm job script that `carbs slurm "
                   "submit` uses.\n");
            return CLI_EXIT_OK;
        }
        if (argc > 2)
            return cli_usage_error(usage_text, "unexpected argument '%s'", argv[2]);
        fputs(job_script, stdout);
        return CLI_EXIT_OK;
    }
    return cli_usage_error(usage_text, "unknown verb '%s' (submit, script)", argv[1]);
}
