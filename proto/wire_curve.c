/*
 * wire_curve.c - CurveZMQ keys on disk, the allow-list of worker keys, and
 * the ZAP handler that enforces it.
 *
 * A key pair file <name>.key holds "public = Z85" and "secret = Z85" lines
 * (mode 0600); <name>.pub holds the public line only (mode 0644).  '#' starts
 * a comment line.  The service's allow-list is every *.pub in one directory
 * (worker keys) and in its admin/ folder (admin keys); its ZAP handler
 * (RFC 27, rfc.zeromq.org/spec/27) answers "200" with the file stem as user
 * id for a listed key and "400" for anything else.  The
 * server calls wire__zap_serve() from its own poll loop (proto/wire.c).
 */
#include "proto/common.h"
#include "proto/wire_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/log.h"

/* Key files are a few lines; anything much larger is not one of ours. */
#define KEY_FILE_MAX 4096

static const char z85_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";

// ---- names and text ----

/* 1..63 of [A-Za-z0-9._-], not starting with '.'. */
static bool key_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > WIRE_KEY_NAME_MAX || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/* True when z (any length) is exactly 40 Z85 characters that decode. */
static bool z85_key_valid(const char *z, size_t n)
{
    char text[WIRE_KEY_Z85_LEN + 1];
    uint8_t raw[WIRE__KEY_BYTES];

    if (n != WIRE_KEY_Z85_LEN) return false;
    for (size_t i = 0; i < n; i++) {
        if (z[i] == '\0' || !strchr(z85_alphabet, z[i])) return false;
    }
    memcpy(text, z, n);
    text[n] = '\0';
    return zmq_z85_decode(raw, text) != NULL;
}

static void wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

// ---- reading key files ----

/* Read the whole of path (at most KEY_FILE_MAX bytes) into buf[cap]. */
static int read_small_file(const char *path, char *buf, size_t cap, carbs_err_t *err)
{
    int rc = 0;
    size_t n = 0;
    FILE *f = fopen(path, "rb");

    if (!f) return carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", path, strerror(errno));
    n = fread(buf, 1, cap - 1, f);
    if (ferror(f)) {
        rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    if (n == cap - 1 && fgetc(f) != EOF) {
        rc =
            carbs_fail(err, CARBS_EINVAL, "'%s' is not a key file (over %zu bytes)", path, cap - 1);
        goto out;
    }
    if (memchr(buf, '\0', n)) {
        rc = carbs_fail(err, CARBS_EINVAL, "'%s' is not a key file (binary data)", path);
        goto out;
    }
    buf[n] = '\0';
out:
    fclose(f);
    return rc;
}

/* Whether a key file must, may or must not hold a secret key. */
typedef enum secret_rule { SECRET_REQUIRED, SECRET_OPTIONAL, SECRET_FORBIDDEN } secret_rule_t;

/* Parse "public = Z85" / "secret = Z85" lines from text (modified in place). */
static int parse_key_text(const char *path, char *text, secret_rule_t rule, wire_keypair_t *out,
                          carbs_err_t *err)
{
    bool have_pub = false, have_sec = false;
    int line_no = 0;
    char *line = text;

    while (line && *line) {
        char *next = strchr(line, '\n');
        char *eq, *name, *val, *end;
        size_t name_len, val_len;

        line_no++;
        if (next) *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        end = line + strlen(line);
        while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (*line == '\0' || *line == '#') {
            line = next;
            continue;
        }
        eq = strchr(line, '=');
        if (!eq)
            return carbs_fail(err, CARBS_EINVAL, "'%s' line %d: expected 'public = KEY'", path,
                              line_no);
        name = line;
        name_len = (size_t)(eq - line);
        while (name_len && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
            name_len--;
        val = eq + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        val_len = strlen(val);
        if (name_len == 6 && memcmp(name, "public", 6) == 0) {
            if (have_pub)
                return carbs_fail(err, CARBS_EINVAL, "'%s' line %d: second 'public' key", path,
                                  line_no);
            if (!z85_key_valid(val, val_len))
                return carbs_fail(err, CARBS_EINVAL,
                                  "'%s' line %d: 'public' is not a %d-character Z85 key", path,
                                  line_no, WIRE_KEY_Z85_LEN);
            memcpy(out->public_z85, val, WIRE_KEY_Z85_LEN + 1);
            have_pub = true;
        } else if (name_len == 6 && memcmp(name, "secret", 6) == 0) {
            if (rule == SECRET_FORBIDDEN)
                return carbs_fail(err, CARBS_EINVAL,
                                  "'%s' line %d: a public key file must not hold a secret key",
                                  path, line_no);
            if (have_sec)
                return carbs_fail(err, CARBS_EINVAL, "'%s' line %d: second 'secret' key", path,
                                  line_no);
            if (!z85_key_valid(val, val_len))
                return carbs_fail(err, CARBS_EINVAL,
                                  "'%s' line %d: 'secret' is not a %d-character Z85 key", path,
                                  line_no, WIRE_KEY_Z85_LEN);
            memcpy(out->secret_z85, val, WIRE_KEY_Z85_LEN + 1);
            have_sec = true;
        } else {
            return carbs_fail(err, CARBS_EINVAL, "'%s' line %d: unknown field '%.*s'", path,
                              line_no, (int)(name_len > 32 ? 32 : name_len), name);
        }
        line = next;
    }
    if (!have_pub)
        return carbs_fail(err, CARBS_EINVAL, "'%s': no 'public' key (truncated file?)", path);
    if (rule == SECRET_REQUIRED && !have_sec)
        return carbs_fail(err, CARBS_EINVAL, "'%s': no 'secret' key (truncated file?)", path);
    return 0;
}

int wire_key_load_pair(const char *path, wire_keypair_t *out, carbs_err_t *err)
{
    char text[KEY_FILE_MAX + 1];
    char derived[WIRE_KEY_Z85_LEN + 1];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!path) return carbs_fail(err, CARBS_EINVAL, "no key file given");
    rc = read_small_file(path, text, sizeof(text), err);
    if (rc < 0) goto out;
    rc = parse_key_text(path, text, SECRET_REQUIRED, out, err);
    if (rc < 0) goto out;
    if (zmq_curve_public(derived, out->secret_z85) != 0) {
        rc = carbs_fail(err, CARBS_EINVAL, "'%s': cannot derive the public key: %s", path,
                        zmq_strerror(errno));
        goto out;
    }
    if (memcmp(derived, out->public_z85, WIRE_KEY_Z85_LEN) != 0)
        rc = carbs_fail(err, CARBS_EINVAL, "'%s': the public key does not match the secret key",
                        path);
out:
    wipe(text, sizeof(text));
    if (rc < 0) wire_keypair_wipe(out);
    return rc;
}

int wire_key_load_public(const char *path, char *out, carbs_err_t *err)
{
    char text[KEY_FILE_MAX + 1];
    wire_keypair_t kp = {{0}, {0}};
    secret_rule_t rule;
    size_t n;
    int rc;

    if (!path) return carbs_fail(err, CARBS_EINVAL, "no key file given");
    rc = read_small_file(path, text, sizeof(text), err);
    if (rc < 0) goto out;
    /* A .key file names its public key too; a .pub file must not hold a secret. */
    n = strlen(path);
    rule = n > 4 && strcmp(path + n - 4, ".pub") == 0 ? SECRET_FORBIDDEN : SECRET_OPTIONAL;
    rc = parse_key_text(path, text, rule, &kp, err);
    if (rc == 0) memcpy(out, kp.public_z85, WIRE_KEY_Z85_LEN + 1);
out:
    wipe(text, sizeof(text));
    wire_keypair_wipe(&kp);
    return rc;
}

void wire_keypair_wipe(wire_keypair_t *kp)
{
    if (kp) wipe(kp, sizeof(*kp));
}

// ---- writing key files ----

/* Create path exclusively with mode, write text, and sync it. */
static int write_new_file(const char *path, const char *text, mode_t mode, carbs_err_t *err)
{
    size_t len = strlen(text), done = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    if (fd < 0) {
        if (errno == EEXIST)
            return carbs_fail(err, CARBS_EEXIST, "'%s' already exists; not overwriting it", path);
        return carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    /* The umask may have narrowed mode; the .pub must stay readable. */
    if (fchmod(fd, mode) != 0) goto fail;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) goto fail;
        done += (size_t)w;
    }
    if (fsync(fd) != 0) goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    return 0;
fail : {
    int e = errno;
    if (fd >= 0) close(fd);
    unlink(path);
    return carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(e));
}
}

int wire_keygen(const char *dir, const char *name, carbs_err_t *err)
{
    char key_path[PATH_MAX], pub_path[PATH_MAX];
    char key_text[512], pub_text[512];
    wire_keypair_t kp;
    struct stat st;
    int rc = 0;

    memset(&kp, 0, sizeof(kp));
    if (!dir || !*dir) return carbs_fail(err, CARBS_EINVAL, "no key directory given");
    if (!name || !key_name_valid(name))
        return carbs_fail(err, CARBS_EINVAL,
                          "invalid key name '%s': use 1-%d of A-Z a-z 0-9 . _ -, "
                          "not starting with '.'",
                          name ? name : "", WIRE_KEY_NAME_MAX);
    if ((size_t)snprintf(key_path, sizeof(key_path), "%s/%s.key", dir, name) >= sizeof(key_path) ||
        (size_t)snprintf(pub_path, sizeof(pub_path), "%s/%s.pub", dir, name) >= sizeof(pub_path))
        return carbs_fail(err, CARBS_ETOOBIG, "key directory '%s' is too long", dir);
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0)
            return carbs_fail(err, CARBS_EIO, "cannot create key directory '%s': %s", dir,
                              strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return carbs_fail(err, CARBS_EIO, "'%s' is not a directory", dir);
    }
    if (stat(key_path, &st) == 0 || stat(pub_path, &st) == 0)
        return carbs_fail(err, CARBS_EEXIST, "key '%s' already exists in '%s'; not overwriting it",
                          name, dir);
    if (zmq_curve_keypair(kp.public_z85, kp.secret_z85) != 0)
        return carbs_fail(err, CARBS_EIO, "cannot make a curve key pair: %s", zmq_strerror(errno));
    snprintf(key_text, sizeof(key_text),
             "# carbs CurveZMQ key pair '%s': keep this file secret (mode 0600)\n"
             "public = %s\nsecret = %s\n",
             name, kp.public_z85, kp.secret_z85);
    snprintf(pub_text, sizeof(pub_text),
             "# carbs CurveZMQ public key '%s'\n"
             "# a worker key: copy it into the service's allow-list directory\n"
             "# an admin key: copy it into that directory's admin/ folder\n"
             "# the service key: give it to every worker\n"
             "public = %s\n",
             name, kp.public_z85);
    rc = write_new_file(key_path, key_text, 0600, err);
    if (rc < 0) goto out;
    rc = write_new_file(pub_path, pub_text, 0644, err);
    if (rc < 0) unlink(key_path);
out:
    wipe(key_text, sizeof(key_text));
    wire_keypair_wipe(&kp);
    return rc;
}

// ---- the allow-list ----

/* Append every *.pub of dir to *out, each with admin set as given. */
static int allow_load_dir(const char *dir, bool admin, wire__allow_t *out, carbs_err_t *err)
{
    char path[PATH_MAX];
    char z85[WIRE_KEY_Z85_LEN + 1];
    struct dirent *de;
    int rc = 0;
    DIR *d = opendir(dir);

    if (!d)
        return carbs_fail(err, CARBS_EIO, "cannot open allow-list directory '%s': %s", dir,
                          strerror(errno));
    for (;;) {
        size_t n;
        wire__allowed_t a;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0)
                rc = carbs_fail(err, CARBS_EIO, "cannot read allow-list directory '%s': %s", dir,
                                strerror(errno));
            break;
        }
        n = strlen(de->d_name);
        if (n <= 4 || strcmp(de->d_name + n - 4, ".pub") != 0 || de->d_name[0] == '.') continue;
        memset(&a, 0, sizeof(a));
        if (n - 4 <= WIRE_KEY_NAME_MAX) {
            memcpy(a.name, de->d_name, n - 4);
            a.name[n - 4] = '\0';
        }
        if (n - 4 > WIRE_KEY_NAME_MAX || !key_name_valid(a.name)) {
            rc = carbs_fail(err, CARBS_EINVAL,
                            "allow-list '%s': '%s' is not a key name (1-%d of A-Z a-z 0-9 . _ -)",
                            dir, de->d_name, WIRE_KEY_NAME_MAX);
            goto out;
        }
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
            rc = carbs_fail(err, CARBS_ETOOBIG, "allow-list path '%s' is too long", dir);
            goto out;
        }
        rc = wire_key_load_public(path, z85, err);
        if (rc < 0) goto out;
        if (wire__allow_find_name(out, a.name)) {
            rc = carbs_fail(err, CARBS_EINVAL,
                            "allow-list '%s': key name '%s' is both a worker and an admin key",
                            dir, a.name);
            goto out;
        }
        zmq_z85_decode(a.key, z85);
        a.admin = admin;
        if (DA_PUSH(&out->keys, a)) {
            rc = carbs_fail(err, CARBS_ENOMEM, "allow-list '%s': out of memory", dir);
            goto out;
        }
    }
out:
    closedir(d);
    return rc;
}

int wire__allow_load(const char *dir, wire__allow_t *out, carbs_err_t *err)
{
    char admin[PATH_MAX];
    struct stat st;
    int rc = allow_load_dir(dir, false, out, err);

    if (rc == 0 &&
        (size_t)snprintf(admin, sizeof(admin), "%s/%s", dir, WIRE_ADMIN_DIR_NAME) >= sizeof(admin))
        rc = carbs_fail(err, CARBS_ETOOBIG, "allow-list path '%s' is too long", dir);
    if (rc == 0 && stat(admin, &st) == 0 && S_ISDIR(st.st_mode))
        rc = allow_load_dir(admin, true, out, err);
    if (rc < 0) wire__allow_release(out);
    return rc;
}

void wire__allow_release(wire__allow_t *a)
{
    DA_FREE(&a->keys);
}

const wire__allowed_t *wire__allow_find(const wire__allow_t *a, const unsigned char *key)
{
    for (size_t i = 0; i < a->keys.n; i++) {
        if (memcmp(a->keys.v[i].key, key, WIRE__KEY_BYTES) == 0) return &a->keys.v[i];
    }
    return NULL;
}

const wire__allowed_t *wire__allow_find_name(const wire__allow_t *a, const char *name)
{
    for (size_t i = 0; i < a->keys.n; i++) {
        if (strcmp(a->keys.v[i].name, name) == 0) return &a->keys.v[i];
    }
    return NULL;
}

// ---- ZAP ----

/* Request frames (RFC 27): version, request id, domain, address, routing id,
 * mechanism, then credentials (CURVE: the client's 32-byte public key). */
enum {
    ZAP_VERSION,
    ZAP_REQUEST_ID,
    ZAP_DOMAIN,
    ZAP_ADDRESS,
    ZAP_ROUTING_ID,
    ZAP_MECHANISM,
    ZAP_CREDENTIALS,
    ZAP_FRAMES
};

static bool frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* The reply; key (32 bytes, or NULL) goes into its metadata frame as the
 * property WIRE__KEY_PROPERTY in Z85, which libzmq attaches to every frame
 * of that connection (ZMTP metadata: a 1-byte name length, the name, a
 * 4-byte big-endian value length, the value). */
static int zap_reply(void *zap, zmq_msg_t *request_id, const char *code, const char *text,
                     const char *user, const unsigned char *key, carbs_err_t *err)
{
    unsigned char meta[1 + sizeof(WIRE__KEY_PROPERTY) + 4 + WIRE_KEY_Z85_LEN + 1];
    size_t meta_len = 0, name_len = strlen(WIRE__KEY_PROPERTY);
    int rc = 0;

    if (key) {
        meta[meta_len++] = (unsigned char)name_len;
        memcpy(meta + meta_len, WIRE__KEY_PROPERTY, name_len);
        meta_len += name_len;
        meta[meta_len++] = 0;
        meta[meta_len++] = 0;
        meta[meta_len++] = 0;
        meta[meta_len++] = WIRE_KEY_Z85_LEN;
        zmq_z85_encode((char *)meta + meta_len, key, WIRE__KEY_BYTES); /* writes a NUL too */
        meta_len += WIRE_KEY_Z85_LEN;
    }
    if (zmq_send(zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, code, strlen(code), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, user, strlen(user), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, meta, meta_len, 0) < 0)
        rc = carbs_fail(err, CARBS_EIO, "cannot answer an authentication request: %s",
                        zmq_strerror(errno));
    return rc;
}

int wire__zap_serve(void *zap, const wire__allow_t *allow, const char *dir, carbs_err_t *err)
{
    zmq_msg_t f[ZAP_FRAMES];
    size_t n = 0;
    int more = 1, rc = 0;
    const wire__allowed_t *who = NULL;
    char address[64] = "";

    /* Take every frame of the request, keeping the first ZAP_FRAMES. */
    while (more) {
        zmq_msg_t extra;
        zmq_msg_t *m = n < ZAP_FRAMES ? &f[n] : &extra;
        size_t more_len = sizeof(more);

        zmq_msg_init(m);
        if (zmq_msg_recv(m, zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (errno == EAGAIN && n == 0) return 0; /* spurious wake-up */
            rc = carbs_fail(err, CARBS_EIO, "cannot read an authentication request: %s",
                            zmq_strerror(errno));
            goto out;
        }
        zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &more_len);
        if (m == &extra)
            zmq_msg_close(m);
        else
            n++;
    }
    if (n < ZAP_CREDENTIALS || !frame_is(&f[ZAP_VERSION], "1.0")) {
        /* Not a request we can answer properly; a reply keeps REP in step. */
        if (n > ZAP_REQUEST_ID)
            rc = zap_reply(zap, &f[ZAP_REQUEST_ID], "500", "malformed request", "", NULL, err);
        else
            rc = zap_reply(zap, &f[0], "500", "malformed request", "", NULL, err);
        goto out;
    }
    snprintf(address, sizeof(address), "%.*s", (int)zmq_msg_size(&f[ZAP_ADDRESS]),
             (const char *)zmq_msg_data(&f[ZAP_ADDRESS]));
    if (frame_is(&f[ZAP_MECHANISM], "CURVE") && n > ZAP_CREDENTIALS &&
        zmq_msg_size(&f[ZAP_CREDENTIALS]) == WIRE__KEY_BYTES)
        who = wire__allow_find(allow, zmq_msg_data(&f[ZAP_CREDENTIALS]));
    if (who) {
        log_debug("wire: accepted curve key '%s' from %s", who->name, address);
        rc = zap_reply(zap, &f[ZAP_REQUEST_ID], "200", "OK", who->name, who->key, err);
    } else {
        char z85[WIRE_KEY_Z85_LEN + 1] = "(none)";
        if (n > ZAP_CREDENTIALS && zmq_msg_size(&f[ZAP_CREDENTIALS]) == WIRE__KEY_BYTES)
            zmq_z85_encode(z85, zmq_msg_data(&f[ZAP_CREDENTIALS]), WIRE__KEY_BYTES);
        log_warn("wire: refused key %s from %s: not in the allow-list '%s'", z85, address, dir);
        rc = zap_reply(zap, &f[ZAP_REQUEST_ID], "400", "key not in the allow-list", "", NULL,
                       err);
    }
out:
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return rc;
}
