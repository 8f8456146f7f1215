/*
 * units.c - the grammar of durations, sizes, whole numbers and signals
 * (units.h).
 *
 * Durations and sizes are one form, "DIGITS[.DIGITS][blanks]UNIT" (blanks
 * only before a unit), read exactly in integers: the value must be a whole
 * number of the base unit (ms, bytes), and at most 9 decimals may be
 * significant, so that the fraction times the largest multiple (a week in
 * ms) stays within int64.
 * Duration units are case-sensitive ("m" is a minute, and "M" would read
 * as a month); size units are not.
 *
 * The signal table is the only list of signal names in smithers: names
 * without SIG, in the order of their numbers on Linux, one name each.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/units.h"

struct unit {
	const char *name;
	int64_t mult;
};

static const struct unit duration_units[] = {
	{"", 1000},
	{"ms", 1},
	{"s", 1000},
	{"m", (int64_t)60 * 1000},
	{"h", (int64_t)3600 * 1000},
	{"d", (int64_t)86400 * 1000},
	{"w", (int64_t)7 * 86400 * 1000},
	{NULL, 0},
};

static const struct unit size_units[] = {
	{"", 1},
	{"K", (int64_t)1 << 10},
	{"KiB", (int64_t)1 << 10},
	{"M", (int64_t)1 << 20},
	{"MiB", (int64_t)1 << 20},
	{"G", (int64_t)1 << 30},
	{"GiB", (int64_t)1 << 30},
	{NULL, 0},
};

static int fail(int err)
{
	errno = err;
	return -1;
}

/* TEXT, "DIGITS[.DIGITS][blanks]UNIT" with UNIT from UNITS, into *OUT. */
static int parse_scaled(const char *text, const struct unit *units, int nocase,
			int64_t *out)
{
	const char *p = text, *blanks;
	int64_t whole = 0, frac = 0, scale = 1, v, part;
	int ndigits = 0, nfrac = 0;

	for (; *p >= '0' && *p <= '9'; p++, ndigits++) {
		if (whole > (INT64_MAX - 9) / 10)
			return fail(ERANGE);
		whole = whole * 10 + (*p - '0');
	}
	if (!ndigits)
		return fail(EINVAL);
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
			if (nfrac < 9) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			} else if (*p != '0') {
				return fail(EINVAL);
			}
		}
		if (!nfrac)
			return fail(EINVAL);
	}
	for (blanks = p; *p == ' ' || *p == '\t'; p++)
		;
	if (p > blanks && !*p)
		return fail(EINVAL); /* blanks, then no unit */
	for (; units->name; units++) {
		if (nocase ? strcasecmp(units->name, p)
			   : strcmp(units->name, p))
			continue;
		if (whole > INT64_MAX / units->mult)
			return fail(ERANGE);
		if ((frac * units->mult) % scale)
			return fail(EINVAL); /* not a whole base unit */
		v = whole * units->mult;
		part = frac * units->mult / scale;
		if (v > INT64_MAX - part)
			return fail(ERANGE);
		*out = v + part;
		return 0;
	}
	return fail(EINVAL);
}

int cm_parse_duration(const char *text, int64_t *ms)
{
	return parse_scaled(text, duration_units, 0, ms);
}

int cm_parse_size(const char *text, int64_t *bytes)
{
	return parse_scaled(text, size_units, 1, bytes);
}

int cm_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
	const char *p = text;
	int64_t v = 0;
	int neg = 0, over = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (!*p)
		return fail(EINVAL);
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return fail(EINVAL);
		/* Past int64 either way: out of range, whatever the range. */
		if (v > (INT64_MAX - (*p - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (*p - '0');
	}
	if (neg)
		v = -v;
	if (over || v < min || v > max)
		return fail(ERANGE);
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},
	{"ILL", SIGILL},       {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
	{"BUS", SIGBUS},       {"FPE", SIGFPE},	  {"KILL", SIGKILL},
	{"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
#ifdef SIGSTKFLT
	{"STKFLT", SIGSTKFLT},
#endif
	{"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"STOP", SIGSTOP},
	{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
	{"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
	{"IO", SIGIO},
#ifdef SIGPWR
	{"PWR", SIGPWR},
#endif
	{"SYS", SIGSYS},
};

#define NSIGNALS (sizeof(signals) / sizeof(signals[0]))

int cm_signal_number(const char *name)
{
	size_t i;

	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (i = 0; i < NSIGNALS; i++)
		if (!strcasecmp(name, signals[i].name))
			return signals[i].sig;
	return fail(EINVAL);
}

const char *cm_signal_name(int sig)
{
	size_t i;

	for (i = 0; i < NSIGNALS; i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	errno = EINVAL;
	return NULL;
}

int cm_parse_signal(const char *text)
{
	int64_t n;

	if (*text >= '0' && *text <= '9') {
		if (cm_parse_int(text, 1, NSIG - 1, &n) < 0)
			return -1;
		return (int)n;
	}
	return cm_signal_number(text);
}

char *cm_format_size(int64_t bytes, char *buf, size_t len)
{
	static const char units[] = "GMK";
	static const int64_t of[] = {1 << 30, 1 << 20, 1 << 10};

	for (int i = 0; i < 3; i++)
		if (bytes >= of[i] && bytes % of[i] == 0) {
			snprintf(buf, len, "%" PRId64 "%c", bytes / of[i],
				 units[i]);
			return buf;
		}
	for (int i = 0; i < 3; i++)
		if (bytes >= of[i]) {
			snprintf(buf, len, "%.1f%c", (double)bytes / of[i],
				 units[i]);
			return buf;
		}
	snprintf(buf, len, "%" PRId64, bytes);
	return buf;
}
