/*
 * cmd_workers.c - `carbs workers`: every worker the store has heard from
 * (id, host, devices, first and last seen, trials lost, quarantine).  A
 * reader: the store is opened read-only.  `carbs status` shows which of
 * them a running service has connected right now.
 *
 * `carbs workers release ID` ends a worker's quarantine, through the
 * service that holds the store (tools/request.h) so that it acts at once.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <inttypes.h>

#include "tools/format.h"
#include "tools/request.h"
#include "tools/verb.h"

static const char usage_text[] = "carbs workers [--db PATH] [--format json|csv|table]\n"
                                 "       carbs workers release ID [--unbind] [--db PATH]";
static const char release_usage[] = "carbs workers release ID [--unbind] [--db PATH]";

/* `carbs workers release ID`: a release request (docs/service.md). */
static int workers_release(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"unbind", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *id = NULL;
    bool unbind = false;
    carbs_err_t err = {0};
    proto_msg_t m, r = {0};
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, release_usage, &rc)) != -1) {
        if (c == 'h') {
            printf("usage: %s\n\nEnd worker ID's quarantine now: it gets trials again, and "
                   "its count of lost\ntrials starts over.  A running service acts at once.\n"
                   "--unbind also frees the id from the CURVE key it is bound to (its first\n"
                   "hello's), so a worker with a new key may take it.\n",
                   release_usage);
            return CLI_EXIT_OK;
        }
        if (c == 'u') {
            unbind = true;
            continue;
        }
        if (c != 'd')
            return rc;
        db_opt = optarg;
    }
    if ((rc = verb_operand(argc, argv, release_usage, "the worker id", &id)))
        return rc;
    proto_msg_init(&m, PROTO_MSG_RELEASE);
    if (strlen(id) >= sizeof(m.release.worker)) {
        proto_msg_release(&m);
        return cli_usage_error(release_usage, "worker id '%.32s...' is too long", id);
    }
    str_copy(m.release.worker, sizeof(m.release.worker), id);
    m.release.unbind = unbind;
    rc = request_send(cli_pick_db(g, db_opt), NULL, &m, &r, &err);
    proto_msg_release(&m);
    if (rc)
        rc = cli_fail(&err);
    else if (r.type == PROTO_MSG_ERROR)
        rc = cli_error(CLI_EXIT_FAIL, "%s", r.error.message);
    else if (!r.reply.ok)
        rc = cli_error(CLI_EXIT_FAIL, "%s", r.reply.message);
    else
        printf("worker %s released: it gets trials again%s\n", id,
               unbind ? "; its id is bound to no key" : "");
    proto_msg_release(&r);
    return rc;
}

/* The devices column: the stored JSON array, or null/"" when there is none
 * or it is not an array (the service writes ["cpu", "cuda:0 ..."]). */
static const char *devices_of(const store_worker_t *w)
{
    const char *d = w->devices_json;
    size_t n = d ? strlen(d) : 0;

    return n >= 2 && d[0] == '[' && d[n - 1] == ']' ? d : NULL;
}

static int print_json(jw_t *jw, const store_worker_t *w, carbs_err_t *err)
{
    jw_object(jw, NULL);
    jw_str(jw, "id", w->id);
    jw_str(jw, "host", w->host);
    format_jw_array_text(jw, "devices", devices_of(w));
    format_jw_time(jw, "first_seen", w->first_seen);
    format_jw_time(jw, "last_seen", w->last_seen);
    jw_int(jw, "losses", w->losses);
    jw_bool(jw, "quarantined", w->quarantined);
    if (w->key_name[0])
        jw_str(jw, "key", w->key_name); /* the CURVE key the id is bound to */
    jw_end(jw);
    return format_json_line(jw, stdout, err);
}

static void print_csv(const store_worker_t *w)
{
    const char *dev = devices_of(w);
    char first[32], last[32];

    format_iso_time(w->first_seen, first, sizeof(first));
    format_iso_time(w->last_seen, last, sizeof(last));
    format_csv_str(stdout, w->id);
    putchar(',');
    format_csv_str(stdout, w->host);
    putchar(',');
    format_csv_str(stdout, dev ? dev : "");
    printf(",%s,%s,%" PRId64 ",%s\n", first, last, w->losses, w->quarantined ? "yes" : "no");
}

static void add_row(format_table_t *tab, const store_worker_t *w)
{
    const char *dev = devices_of(w);
    char buf[32];

    format_table_add(tab, w->id);
    format_table_add(tab, w->host[0] ? w->host : "-");
    format_table_add(tab, dev ? dev : "-");
    format_iso_time(w->first_seen, buf, sizeof(buf));
    format_table_add(tab, buf);
    format_iso_time(w->last_seen, buf, sizeof(buf));
    format_table_add(tab, buf);
    format_table_addf(tab, "%" PRId64, w->losses);
    format_table_add(tab, w->quarantined ? "yes" : "no");
}

int cmd_workers(int argc, char **argv, const cli_globals_t *g)
{
    static const char *const head[] = {"ID",        "HOST",   "DEVICES",    "FIRST_SEEN",
                                       "LAST_SEEN", "LOSSES", "QUARANTINED"};
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    format_table_t tab = {0};
    jw_t jw;
    carbs_err_t err = {0};
    store_t *st = NULL;
    store_worker_iter_t *it = NULL;
    const store_worker_t *w;
    int c, rc = CLI_EXIT_OK;

    if (argc > 1 && strcmp(argv[1], "release") == 0)
        return workers_release(argc - 1, argv + 1, g);
    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nPrint every worker the store knows: id, host, devices, first "
                   "and last seen,\ntrials lost while it held them, and whether it is "
                   "quarantined (no new trials).\nThe store is opened read-only.\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_ALL, usage_text, &fmt))
                return CLI_EXIT_USAGE;
            break;
        default:
            return rc;
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind]);
    jw_init(&jw);
    st = verb_store_open(cli_pick_db(g, db_opt), &err);
    if (st)
        it = store_worker_iter_new(st, &err);
    if (!it) {
        rc = cli_fail(&err);
        goto out;
    }
    format_table_head(&tab, head, ARRAY_SIZE(head));
    if (fmt == FORMAT_CSV)
        puts("id,host,devices,first_seen,last_seen,losses,quarantined");
    while (store_worker_iter_next(it, &w) == CARBS_CONTINUE) {
        if (fmt == FORMAT_CSV) {
            print_csv(w);
        } else if (fmt == FORMAT_TABLE) {
            add_row(&tab, w);
        } else if (print_json(&jw, w, &err)) {
            rc = cli_fail(&err);
            break;
        }
    }
    if (fmt == FORMAT_TABLE)
        format_table_print(&tab, stdout);
out:
    jw_release(&jw);
    format_table_release(&tab);
    store_worker_iter_free(it);
    store_close(st);
    return rc;
}
