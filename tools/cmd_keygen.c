/*
 * cmd_keygen.c - `carbs keygen`: write a CurveZMQ key pair for a worker or
 * the service (docs/wire.md, CURVE setup).
 *
 * Writes <dir>/<name>.key (mode 0600) and <dir>/<name>.pub (mode 0644) with
 * wire_keygen(), never overwriting, and prints the two paths and the public
 * key on stdout as "field: value" lines.  The name defaults to this host's
 * short name, so `carbs keygen` on each node gives each worker its own key;
 * the service's pair is conventionally named "service".  --admin is for a
 * client that may send admin requests over TCP: the pair is the same kind,
 * and its .pub goes into the allow-list's admin/ folder instead.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <getopt.h>
#include <unistd.h>

#include "proto/wire.h"

#define KEYGEN_DEFAULT_DIR "keys"

static const char keygen_usage[] = "carbs keygen [--dir DIR] [--name NAME] [--admin]";

static void keygen_help(FILE *out)
{
    fprintf(out,
            "usage: %s\n\n"
            "Write a CurveZMQ key pair: DIR/NAME.key (public and secret key, mode 0600)\n"
            "and DIR/NAME.pub (public key only, mode 0644).  Existing files are never\n"
            "overwritten.  Prints the paths and the public key.\n\n"
            "options:\n"
            "  -d, --dir DIR    where to write the files (default ./%s; created 0700)\n"
            "  -n, --name NAME  the key's name: 1-%d of A-Z a-z 0-9 . _ -, not starting\n"
            "                   with '.' (default: this host's short name; use\n"
            "                   '%s' for the service's own pair)\n"
            "  -a, --admin      an admin key: its .pub goes into the allow-list's\n"
            "                   %s/ folder, and a client holding it may create, pause,\n"
            "                   resume and stop sweeps, ask, tell and import over TCP\n"
            "  -h, --help       show this help\n\n"
            "Setup: on the service host, `carbs keygen --name %s`; on each worker,\n"
            "`carbs keygen`.  Copy every worker's .pub into the service's allow-list\n"
            "directory and the service's .pub to every worker.  A worker key can only\n"
            "run trials.  See docs/wire.md.\n",
            keygen_usage, KEYGEN_DEFAULT_DIR, WIRE_KEY_NAME_MAX, WIRE_SERVICE_KEY_NAME,
            WIRE_ADMIN_DIR_NAME, WIRE_SERVICE_KEY_NAME);
}

/* This host's name up to the first dot, in name[cap]; "" when unknown. */
static void short_hostname(char *name, size_t cap)
{
    char host[256];
    char *dot;

    name[0] = '\0';
    if (gethostname(host, sizeof(host)) != 0) return;
    host[sizeof(host) - 1] = '\0';
    dot = strchr(host, '.');
    if (dot) *dot = '\0';
    str_copy(name, cap, host);
}

int cmd_keygen(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"admin", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = KEYGEN_DEFAULT_DIR;
    const char *name = NULL;
    char host[WIRE_KEY_NAME_MAX + 2];
    char key_path[4096], pub_path[4096];
    char public_z85[WIRE_KEY_Z85_LEN + 1];
    carbs_err_t err = {0};
    bool admin = false;
    int c, rc;

    UNUSED(g);
    while ((c = getopt_long(argc, argv, "d:n:ah", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'a':
            admin = true;
            break;
        case 'h':
            keygen_help(stdout);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "usage: %s\n", keygen_usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(keygen_usage, "unexpected argument '%s'", argv[optind]);
    if (!*dir) return cli_usage_error(keygen_usage, "--dir must not be empty");
    if (!name) {
        short_hostname(host, sizeof(host));
        if (!host[0])
            return cli_usage_error(keygen_usage, "cannot tell this host's name; pass --name");
        name = host;
    }
    if ((size_t)snprintf(key_path, sizeof(key_path), "%s/%s.key", dir, name) >= sizeof(key_path) ||
        (size_t)snprintf(pub_path, sizeof(pub_path), "%s/%s.pub", dir, name) >= sizeof(pub_path))
        return cli_usage_error(keygen_usage, "--dir '%.64s...' is too long", dir);
    rc = wire_keygen(dir, name, &err);
    if (rc == CARBS_EINVAL) return cli_usage_error(keygen_usage, "%s", err.msg);
    if (rc < 0) return cli_fail(&err);
    rc = wire_key_load_public(pub_path, public_z85, &err);
    if (rc < 0) return cli_fail(&err);
    printf("secret_key_file: %s\npublic_key_file: %s\npublic_key: %s\n", key_path, pub_path,
           public_z85);
    if (admin)
        printf("role: admin (copy %s into the service's %s/%s/)\n", pub_path, WIRE_ALLOW_DIR_NAME,
               WIRE_ADMIN_DIR_NAME);
    if (fflush(stdout) != 0) return cli_error(CLI_EXIT_FAIL, "cannot write to stdout");
    return CLI_EXIT_OK;
}
