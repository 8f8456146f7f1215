/*
 * workflow-fleet.c - the [fleet] keys (smithers.ini(5), docs/FLEET.md): each
 * value checked and stored into the workflow's struct sup_fleet, its
 * defaults, and the merge of a state dir's fleet.ini under the workflow's
 * keys (sup_fleet_merge_file() in workflow.c reads the file).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/units.h"
#include "supervisor/workflow-int.h"

/* [fleet]: JetStream keeps at most 5 copies of a stream; its duplicate
 * window is held in the servers' memory, so a week is plenty. */
#define FLEET_REPLICAS_MAX 5
#define FLEET_WINDOW_MAX   ((int64_t)7 * 24 * 3600 * 1000)
#define FLEET_HOST_MAX	   64 /* bytes of the host name made the machine */

/* [fleet] nats: servers separated by commas, blanks around each dropped;
 * kept as "URL,URL" for the NATS client. */
static int set_fleet_nats(struct parser *ps, struct sup_fleet *f,
			  const char *value)
{
	const char *p = value;
	char *out, *o;

	o = out = malloc(strlen(value) + 1);
	if (!out)
		return sup_wf_nomem(ps);
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && isspace((unsigned char)*p))
			p++, n--;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (!n) {
			free(out);
			return sup_wf_err(ps, ps->line,
					  "invalid [fleet] nats '%s': a server "
					  "is missing between commas",
					  value);
		}
		if (!sup_wf_valid_server(p, n)) {
			free(out);
			return sup_wf_err(ps, ps->line,
					  "invalid [fleet] nats server '%.*s': "
					  "expected nats://HOST:PORT or "
					  "tls://HOST:PORT (PORT 1 to 65535), "
					  "separated by commas",
					  (int)n, p);
		}
		if (o > out)
			*o++ = ',';
		memcpy(o, p, n);
		o += n;
		if (!end)
			break;
		p = end + 1;
	}
	*o = '\0';
	free(f->nats);
	f->nats = out;
	return 0;
}

/* A [fleet] name of one token (machine; stream with STREAM), or of tokens
 * separated by '.' (subject_prefix), into *OUT. */
static int set_fleet_name(struct parser *ps, enum key_id id, const char *value,
			  char **out)
{
	int stream = id == K_FLEET_STREAM;
	const char *p = value, *dot;

	for (;;) {
		dot = id == K_FLEET_SUBJECT_PREFIX ? strchr(p, '.') : NULL;
		if (!sup_wf_valid_token(p, dot ? (size_t)(dot - p) : strlen(p),
					stream))
			goto bad;
		if (!dot)
			break;
		p = dot + 1;
	}
	free(*out);
	*out = strdup(value);
	return *out ? 0 : sup_wf_nomem(ps);
bad:
	if (id == K_FLEET_SUBJECT_PREFIX)
		return sup_wf_err(ps, ps->line,
				  "invalid [fleet] subject_prefix '%s': "
				  "expected subject tokens separated by '.', "
				  "each 1 to 64 bytes without '*', '>', "
				  "blanks or control characters",
				  value);
	return sup_wf_err(ps, ps->line,
			  "invalid [fleet] %s '%s': expected one token of 1 "
			  "to 64 bytes without '.', '*', '>', %sblanks or "
			  "control characters",
			  sup_wf_key_name(id), value,
			  stream ? "'/', '\\', " : "");
}

/* [fleet] credentials: a file the shipper will read, so readable now. */
static int set_fleet_credentials(struct parser *ps, struct sup_fleet *f,
				 const char *value)
{
	struct stat st;
	char *path;
	int e = 0;

	path = sup_wf_abs_path(ps->wf->dir, value);
	if (!path)
		return sup_wf_nomem(ps);
	if (access(path, R_OK) < 0 || stat(path, &st) < 0)
		e = errno;
	else if (S_ISDIR(st.st_mode))
		e = EISDIR;
	if (e) {
		sup_wf_err(ps, ps->line,
			   "cannot read [fleet] credentials '%s': %s", path,
			   strerror(e));
		free(path);
		return -1;
	}
	free(f->credentials);
	f->credentials = path;
	return 0;
}

int sup_wf_set_fleet_key(struct parser *ps, enum key_id id, const char *value)
{
	struct sup_fleet *f = &ps->wf->fleet;
	int64_t v;

	switch (id) {
	case K_FLEET_NATS:
		f->given |= SUP_FLEET_NATS;
		return set_fleet_nats(ps, f, value);
	case K_FLEET_MACHINE:
		f->given |= SUP_FLEET_MACHINE;
		return set_fleet_name(ps, id, value, &f->machine);
	case K_FLEET_SUBJECT_PREFIX:
		f->given |= SUP_FLEET_SUBJECT_PREFIX;
		return set_fleet_name(ps, id, value, &f->subject_prefix);
	case K_FLEET_CREDENTIALS:
		f->given |= SUP_FLEET_CREDENTIALS;
		return set_fleet_credentials(ps, f, value);
	case K_FLEET_STREAM:
		f->given |= SUP_FLEET_STREAM;
		return set_fleet_name(ps, id, value, &f->stream);
	case K_FLEET_REPLICAS:
		f->given |= SUP_FLEET_REPLICAS;
		if (cm_parse_int(value, 1, FLEET_REPLICAS_MAX, &v) < 0)
			return sup_wf_err(ps, ps->line,
					  "invalid [fleet] replicas '%s': "
					  "expected a whole number from 1 to "
					  "%d",
					  value, FLEET_REPLICAS_MAX);
		f->replicas = (int)v;
		return 0;
	case K_FLEET_DUPLICATE_WINDOW:
		f->given |= SUP_FLEET_DUPLICATE_WINDOW;
		if (sup_wf_duration(ps, "[fleet] duplicate_window", value, &v) <
		    0)
			return -1;
		if (v <= 0 || v > FLEET_WINDOW_MAX)
			return sup_wf_err(ps, ps->line,
					  "[fleet] duplicate_window '%s' out "
					  "of range (above 0, at most 7d)",
					  value);
		f->duplicate_window_ms = v;
		return 0;
	case K_FLEET_SHIP_WAIT:
		f->given |= SUP_FLEET_SHIP_WAIT;
		return sup_wf_duration(ps, "[fleet] ship_wait", value,
				       &f->ship_wait_ms);
	case K_FLEET_VERIFY:
		f->given |= SUP_FLEET_VERIFY;
		return sup_wf_duration(ps, "[fleet] verify", value,
				       &f->verify_ms);
	default:
		return 0;
	}
}

/* The defaults of [fleet]: the machine is the host name, made one token. */
int sup_wf_fleet_defaults(struct sup_fleet *f)
{
	char host[FLEET_HOST_MAX + 1] = "";

	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[FLEET_HOST_MAX] = '\0';
	for (unsigned char *c = (unsigned char *)host; *c; c++)
		if (!sup_wf_valid_token((const char *)c, 1, 0))
			*c = '-';
	if (!f->machine && !(f->machine = strdup(host)))
		return -1;
	if (!f->subject_prefix &&
	    !(f->subject_prefix = strdup(SUP_DEFAULT_FLEET_PREFIX)))
		return -1;
	if (!f->stream && !(f->stream = strdup(SUP_DEFAULT_FLEET_STREAM)))
		return -1;
	if (!(f->given & SUP_FLEET_DUPLICATE_WINDOW))
		f->duplicate_window_ms = SUP_DEFAULT_FLEET_WINDOW;
	if (!(f->given & SUP_FLEET_SHIP_WAIT))
		f->ship_wait_ms = SUP_DEFAULT_SHIP_WAIT;
	if (!(f->given & SUP_FLEET_VERIFY))
		f->verify_ms = SUP_DEFAULT_FLEET_VERIFY;
	return 0;
}

/* The text field of F for bit B, or NULL for a number's bit. */
static char **fleet_text(struct sup_fleet *f, unsigned b)
{
	switch (b) {
	case SUP_FLEET_NATS:
		return &f->nats;
	case SUP_FLEET_MACHINE:
		return &f->machine;
	case SUP_FLEET_SUBJECT_PREFIX:
		return &f->subject_prefix;
	case SUP_FLEET_CREDENTIALS:
		return &f->credentials;
	case SUP_FLEET_STREAM:
		return &f->stream;
	default:
		return NULL;
	}
}

void sup_wf_fleet_take(struct sup_fleet *dst, struct sup_fleet *src)
{
	unsigned take = src->given & ~dst->given;

	for (unsigned b = 1; b <= SUP_FLEET_VERIFY; b <<= 1) {
		char **d = fleet_text(dst, b), **s = fleet_text(src, b);

		if (!(take & b) || !d)
			continue;
		free(*d);
		*d = *s;
		*s = NULL;
	}
	if (take & SUP_FLEET_REPLICAS)
		dst->replicas = src->replicas;
	if (take & SUP_FLEET_DUPLICATE_WINDOW)
		dst->duplicate_window_ms = src->duplicate_window_ms;
	if (take & SUP_FLEET_SHIP_WAIT)
		dst->ship_wait_ms = src->ship_wait_ms;
	if (take & SUP_FLEET_VERIFY)
		dst->verify_ms = src->verify_ms;
	dst->given |= take;
}

void sup_fleet_free(struct sup_fleet *f)
{
	if (!f)
		return;
	free(f->nats);
	free(f->machine);
	free(f->subject_prefix);
	free(f->credentials);
	free(f->stream);
	memset(f, 0, sizeof(*f));
}

