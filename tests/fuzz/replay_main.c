/*
 * replay_main.c - run a libFuzzer harness without libFuzzer: call
 * LLVMFuzzerTestOneInput on each file named on the command line, or on
 * every file in a named directory (in name order).  CI uses it to replay
 * the seed corpus with gcc and under the sanitizer build.  Prints
 * "N passed, N failed" (a file that cannot be read fails; a harness
 * violation aborts the program) and exits 1 when anything failed or no
 * input was found.
 */
#include "proto/common.h"

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the harness; the buffer is exactly the file's size so
 * the sanitizers catch a read past the end.  Returns 0 or -1. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    int rc = -1;

    if (!f)
        goto out;
    if (fseek(f, 0, SEEK_END) != 0)
        goto out;
    n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = xmalloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto out;
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, "replay: cannot read '%s'\n", path);
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file in dir; adds to *passed and *failed. */
static void replay_dir(const char *dir, size_t *passed, size_t *failed)
{
    DIR *d = opendir(dir);
    DA_TYPE(char *) names = {0};
    struct dirent *e;
    char path[4096];

    if (!d) {
        fprintf(stderr, "replay: cannot open '%s'\n", dir);
        (*failed)++;
        return;
    }
    for (e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        if (DA_PUSH(&names, xstrdup(e->d_name)))
            abort();
    }
    closedir(d);
    qsort(names.v, names.n, sizeof(*names.v), by_name);
    for (size_t i = 0; i < names.n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
        if (replay_file(path) == 0)
            (*passed)++;
        else
            (*failed)++;
        free(names.v[i]);
    }
    DA_FREE(&names);
}

int main(int argc, char **argv)
{
    size_t passed = 0, failed = 0;
    struct stat st;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            replay_dir(argv[i], &passed, &failed);
        else if (replay_file(argv[i]) == 0)
            passed++;
        else
            failed++;
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return (failed || passed == 0) ? 1 : 0;
}
