/*
 * top-ui.c - the curses screen of smithers-top: the header, the agent
 * table (sorted, filtered, scrolled, one row selected), an optional keys
 * pane, the help, and the prompts for a filter and for a signal.
 *
 * A refresh takes a snapshot (top.c) every delay unless paused; a key
 * redraws at once from the snapshot it has.
 */
#include "config.h"

#include <curses.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cgroup.h"
#include "common/units.h"
#include "tools/top.h"

/* Column widths; LAST takes what is left. */
static const int widths[COL_COUNT] = {
	[COL_AGENT] = 16,   [COL_PHASE] = 10,	[COL_STATUS] = 9,
	[COL_KIND] = 7,	    [COL_PID] = 7,	[COL_CPU] = 6,
	[COL_MEM] = 7,	    [COL_PEAK] = 7,	[COL_TIME] = 8,
	[COL_RESTARTS] = 8, [COL_TOOLS] = 6,
	[COL_COST] = 9,	    [COL_IN] = 7,	[COL_OUT] = 7,
	[COL_CACHE] = 7,    [COL_LAST] = 0,	[COL_AGE] = 8,
	[COL_RUNNING] = 16,
};

/* Right-aligned columns (numbers). */
static int numeric(int col)
{
	return col == COL_PID || col == COL_CPU || col == COL_MEM ||
	       col == COL_PEAK || col == COL_TIME ||
	       col == COL_RESTARTS || col == COL_TOOLS || col == COL_COST ||
	       col == COL_IN || col == COL_OUT || col == COL_CACHE ||
	       col == COL_AGE;
}

struct ui {
	struct top *t;
	int delay_ms, sort, reverse, paused, show_keys, selected, top;
	char filter[64];
	char message[256];
	size_t *rows; /* indexes into t->snap.agents that pass the filter */
	size_t nrows;
};

static void filter_rows(struct ui *u)
{
	const struct top_snap *s = &u->t->snap;

	free(u->rows);
	u->rows = calloc(s->nagents ? s->nagents : 1, sizeof(*u->rows));
	u->nrows = 0;
	for (size_t i = 0; u->rows && i < s->nagents; i++)
		if (!u->filter[0] || strstr(s->agents[i].a.name, u->filter))
			u->rows[u->nrows++] = i;
	if (u->selected >= (int)u->nrows)
		u->selected = u->nrows ? (int)u->nrows - 1 : 0;
}

static void sample(struct ui *u)
{
	unsigned reattached = u->t->reattached;

	top_sample(u->t, u->show_keys);
	if (u->t->reattached != reattached)
		snprintf(u->message, sizeof(u->message),
			 "a new supervisor (pid %d) replaced the segment: "
			 "showing its values",
			 (int)u->t->snap.h.writer_pid);
	top_sort(&u->t->snap, (enum top_col)u->sort, u->reverse);
	filter_rows(u);
}

/* Cell COL of agent A into BUF. */
static void cell(const struct top_snap *s, const struct top_agent *a, int col,
		 char *buf, size_t len)
{
	switch (col) {
	case COL_AGENT:
		snprintf(buf, len, "%s", a->a.name);
		break;
	case COL_PHASE:
		snprintf(buf, len, "%s", a->a.phase);
		break;
	case COL_STATUS:
		snprintf(buf, len, "%s", a->a.status);
		break;
	case COL_KIND:
		snprintf(buf, len, "%s", top_agent_kind(&a->a));
		break;
	case COL_PID:
		if (a->a.pid > 0)
			snprintf(buf, len, "%d", (int)a->a.pid);
		else
			snprintf(buf, len, "-");
		break;
	case COL_CPU:
		top_fmt_cpu(buf, len, a->cpu);
		break;
	case COL_MEM:
		top_fmt_bytes(buf, len, a->mem);
		break;
	case COL_PEAK:
		top_fmt_bytes(buf, len, a->peak);
		break;
	case COL_TIME:
		top_fmt_cpu_time(buf, len, a->cpu_usec);
		break;
	case COL_RESTARTS:
		snprintf(buf, len, "%d", (int)a->a.restarts);
		break;
	case COL_TOOLS:
		top_fmt_count(buf, len, a->a.tool_calls);
		break;
	case COL_COST:
		top_fmt_cost_known(buf, len, a->a.cost_micro_usd,
				   top_cost_known(s, &a->a));
		break;
	case COL_IN:
		top_fmt_tokens(buf, len, a->a.tokens_in);
		break;
	case COL_OUT:
		top_fmt_tokens(buf, len, a->a.tokens_out);
		break;
	case COL_CACHE:
		top_fmt_tokens(buf, len, a->a.cache_read + a->a.cache_write);
		break;
	case COL_RUNNING:
		top_fmt_running(buf, len, &a->a, s->now_ms,
				widths[COL_RUNNING]);
		break;
	case COL_LAST:
		snprintf(buf, len, "%s", top_agent_last(&a->a));
		break;
	default:
		top_fmt_duration(buf, len,
				 a->a.started_ms > 0
					 ? s->now_ms - a->a.started_ms
					 : -1);
		break;
	}
}

/* The columns in screen order: LAST is drawn last, in what is left. */
static const int order[COL_COUNT] = {
	COL_AGENT, COL_PHASE, COL_STATUS,   COL_KIND,  COL_PID,
	COL_CPU,   COL_MEM,   COL_PEAK,	    COL_TIME,  COL_RESTARTS,
	COL_TOOLS, COL_COST,  COL_IN,	    COL_OUT,   COL_CACHE,
	COL_AGE,   COL_RUNNING, COL_LAST,
};

static void draw_row(int y, int cols, const char *const *cells, attr_t attr,
		     int sort_col)
{
	char fit[512];
	int x = 0;

	move(y, 0);
	attrset(attr);
	for (int i = 0; i < COL_COUNT && x < cols; i++) {
		int col = order[i];
		int w = widths[col] ? widths[col] : cols - x;

		if (w > cols - x)
			w = cols - x;
		if (w <= 0)
			break;
		top_fit(fit, sizeof(fit), cells[col], w);
		if (sort_col == col)
			attron(A_BOLD | A_UNDERLINE);
		if (numeric(col))
			mvprintw(y, x, "%*s", w, fit);
		else
			mvprintw(y, x, "%-*s", w, fit);
		if (sort_col == col)
			attroff(A_BOLD | A_UNDERLINE);
		x += w + 1;
	}
	attrset(A_NORMAL);
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"smithers-top: keys",
		"",
		"  q           quit",
		"  ? h         this help (any key closes it)",
		"  < >         sort by the column left / right",
		"  I           invert the sort order",
		"  /           filter agents by name (empty: all)",
		"  Z           pause / resume updates",
		"  + -         refresh slower / faster",
		"  Up Down PgUp PgDn Home End   move the selection",
		("  k           send a signal to the selected agent's cgroup "
		 "(else its process group)"),
		"  K Tab       show / hide the mirrored keys",
		"",
		"Live figures come from the supervisor's shared memory segment",
		"and /proc, never from the database. CPU% and MEM are the",
		"agent's whole process tree where it runs in a cgroup, else its",
		"process group leader's; PEAK and TIME, the tree's peak memory",
		"and CPU time over its attempts.",
	};

	erase();
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		mvprintw((int)i + 1, 2, "%s", lines[i]);
	refresh();
	timeout(-1);
	getch();
}

static void draw(struct ui *u)
{
	const struct top_snap *s = &u->t->snap;
	char lines[TOP_HEADER_LINES][256], bufs[COL_COUNT][256];
	const char *cells[COL_COUNT];
	int rows, cols, banner, n, y, table_rows, keys_rows = 0;

	getmaxyx(stdscr, rows, cols);
	erase();
	n = top_header(s, lines, cols, &banner);
	for (int i = 0; i < n; i++) {
		if (i == banner)
			attron(A_REVERSE | A_BOLD);
		mvprintw(i, 0, "%s", lines[i]);
		if (i == banner)
			attroff(A_REVERSE | A_BOLD);
	}
	y = n + 1;
	if (u->show_keys)
		keys_rows = (rows - y) / 3;
	table_rows = rows - y - 2 - keys_rows;
	for (int c = 0; c < COL_COUNT; c++)
		cells[c] = top_col_names[c];
	draw_row(y++, cols, cells, A_REVERSE, u->sort);
	if (u->selected < u->top)
		u->top = u->selected;
	if (table_rows > 0 && u->selected >= u->top + table_rows)
		u->top = u->selected - table_rows + 1;
	for (int i = 0; i < table_rows && u->top + i < (int)u->nrows; i++) {
		const struct top_agent *a = &s->agents[u->rows[u->top + i]];

		for (int c = 0; c < COL_COUNT; c++) {
			cell(s, a, c, bufs[c], sizeof(bufs[c]));
			cells[c] = bufs[c];
		}
		draw_row(y + i, cols, cells,
			 u->top + i == u->selected ? A_REVERSE : A_NORMAL, -1);
	}
	if (keys_rows > 0) {
		int ky = rows - 1 - keys_rows;

		attron(A_REVERSE);
		mvprintw(ky++, 0, "%-*s", cols, "KEY = VALUE (mirrored)");
		attroff(A_REVERSE);
		for (size_t k = 0; k < s->nkeys && ky < rows - 1; k++) {
			char line[1400], fit[512];

			snprintf(line, sizeof(line), "%s = %s%s",
				 top_key_name(s, &s->keys[k]),
				 top_key_value(s, &s->keys[k]),
				 s->keys[k].truncated ? " (truncated)" : "");
			mvprintw(ky++, 0, "%s",
				 top_fit(fit, sizeof(fit), line, cols));
		}
	}
	attron(A_REVERSE);
	if (u->message[0])
		mvprintw(rows - 1, 0, "%-*.*s", cols, cols, u->message);
	else
		mvprintw(rows - 1, 0,
			 "%-*.*s", cols, cols,
			 "q quit  ? help  < > sort  I invert  / filter  Z pause  "
			 "+ - delay  k signal  K keys");
	attroff(A_REVERSE);
	if (u->paused || u->filter[0]) {
		char tag[128];

		snprintf(tag, sizeof(tag), "%s%s%s%s", u->paused ? "[PAUSED]" : "",
			 u->filter[0] ? " [filter: " : "", u->filter,
			 u->filter[0] ? "]" : "");
		if ((int)strlen(tag) < cols)
			mvprintw(n, cols - (int)strlen(tag) - 1, "%s", tag);
	}
	refresh();
}

/* Ask for a line at the bottom; 0 with it in BUF, -1 if cancelled (Esc). */
static int prompt(const char *question, char *buf, int len)
{
	int rows, cols, n = 0, ch;

	getmaxyx(stdscr, rows, cols);
	(void)cols;
	buf[0] = '\0';
	timeout(-1);
	curs_set(1);
	for (;;) {
		move(rows - 1, 0);
		clrtoeol();
		mvprintw(rows - 1, 0, "%s%s", question, buf);
		refresh();
		ch = getch();
		if (ch == 27) {
			curs_set(0);
			return -1;
		}
		if (ch == '\n' || ch == KEY_ENTER || ch == '\r')
			break;
		if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && n > 0)
			buf[--n] = '\0';
		else if (ch >= 32 && ch < 127 && n < len - 1) {
			buf[n++] = (char)ch;
			buf[n] = '\0';
		}
	}
	curs_set(0);
	return 0;
}

/* A signal given as a number or a name, with or without SIG
 * (common/units.h); TERM when empty, 0 if none. */
static int parse_signal(const char *s)
{
	int sig;

	if (!*s)
		return SIGTERM;
	sig = cm_parse_signal(s);
	return sig > 0 ? sig : 0;
}

/* The cgroup of agent process PID into DIR when it runs in one of the
 * supervisor's own (named agent-ID-ATTEMPT): 1, else 0 (its process group
 * is what stands for it). */
static const char *cg_name(const char *dir)
{
	const char *base = strrchr(dir, '/');

	return base ? base + 1 : dir;
}

static int agent_cgroup(pid_t pid, char *dir, size_t len)
{
	if (cm_cg_of_pid(pid, dir, len) < 0)
		return 0;
	return !strncmp(cg_name(dir), "agent-", 6);
}

/*
 * Signal the selected agent: every process of its cgroup when it is in one
 * (frozen meanwhile, so that none forks past it; a setsid'd grandchild
 * too), else its process group, as the supervisor itself would.
 */
static void signal_selected(struct ui *u)
{
	const struct top_agent *a;
	char buf[32], q[256], dir[4096];
	const char *what;
	int sig, ch, cg, n;

	if (!u->nrows) {
		snprintf(u->message, sizeof(u->message), "no agent selected");
		return;
	}
	a = &u->t->snap.agents[u->rows[u->selected]];
	if (a->a.pid <= 0) {
		snprintf(u->message, sizeof(u->message),
			 "agent %s has no process", a->a.name);
		return;
	}
	cg = agent_cgroup(a->a.pid, dir, sizeof(dir));
	what = cg ? "cgroup of" : "group";
	snprintf(q, sizeof(q), "signal for agent %s (%s %d) [TERM]: ",
		 a->a.name, what, (int)a->a.pid);
	if (prompt(q, buf, sizeof(buf)) < 0) {
		u->message[0] = '\0';
		return;
	}
	sig = parse_signal(buf);
	if (!sig) {
		snprintf(u->message, sizeof(u->message), "unknown signal '%s'",
			 buf);
		return;
	}
	if (cg)
		snprintf(q, sizeof(q),
			 "send signal %d (%s) to every process of cgroup "
			 "'%.100s'? [y/N] ",
			 sig, strsignal(sig), cg_name(dir));
	else
		snprintf(q, sizeof(q),
			 "send signal %d (%s) to process group %d? [y/N] ", sig,
			 strsignal(sig), (int)a->a.pid);
	{
		int rows, cols;

		getmaxyx(stdscr, rows, cols);
		(void)cols;
		move(rows - 1, 0);
		clrtoeol();
		mvprintw(rows - 1, 0, "%s", q);
		refresh();
	}
	ch = getch();
	if (ch != 'y' && ch != 'Y') {
		snprintf(u->message, sizeof(u->message), "not sent");
		return;
	}
	if (cg) {
		n = cm_cg_signal(dir, sig, 1);
		if (n < 0)
			snprintf(u->message, sizeof(u->message),
				 "cannot signal cgroup '%.200s': %s", dir,
				 strerror(errno));
		else
			snprintf(u->message, sizeof(u->message),
				 "sent signal %d to %d processes of cgroup "
				 "'%.100s' (agent %s)",
				 sig, n, cg_name(dir), a->a.name);
	} else if (kill(-a->a.pid, sig) < 0)
		snprintf(u->message, sizeof(u->message),
			 "cannot signal group %d: %s", (int)a->a.pid,
			 strerror(errno));
	else
		snprintf(u->message, sizeof(u->message),
			 "sent signal %d to group %d (agent %s)", sig,
			 (int)a->a.pid, a->a.name);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int top_ui(struct top *t, const struct top_ui_options *opt)
{
	struct ui u = {.t = t,
		       .delay_ms = opt->delay_ms,
		       .sort = opt->sort,
		       .reverse = opt->reverse};
	double next = 0;
	int ch, rows, cols;
	char buf[64];

	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	for (;;) {
		double now = now_s();
		int wait;

		if (now >= next) {
			if (!u.paused)
				sample(&u);
			next = now + u.delay_ms / 1000.0;
		}
		draw(&u);
		wait = (int)((next - now_s()) * 1000);
		timeout(wait > 0 ? wait : 0);
		ch = getch();
		if (ch == ERR)
			continue;
		getmaxyx(stdscr, rows, cols);
		(void)cols;
		u.message[0] = '\0';
		switch (ch) {
		case 'q':
		case 'Q':
			goto out;
		case '?':
		case 'h':
			draw_help();
			break;
		case '<':
			u.sort = (u.sort + COL_COUNT - 1) % COL_COUNT;
			sample(&u);
			break;
		case '>':
			u.sort = (u.sort + 1) % COL_COUNT;
			sample(&u);
			break;
		case 'I':
			u.reverse = !u.reverse;
			sample(&u);
			break;
		case '/':
			if (prompt("filter (agent name contains): ", buf,
				   sizeof(buf)) == 0)
				snprintf(u.filter, sizeof(u.filter), "%s", buf);
			else
				u.filter[0] = '\0';
			u.selected = u.top = 0;
			filter_rows(&u);
			break;
		case 'Z':
		case 'z':
			u.paused = !u.paused;
			break;
		case '+':
			u.delay_ms += u.delay_ms < 1000 ? 100 : 1000;
			snprintf(u.message, sizeof(u.message),
				 "refresh every %.1f s", u.delay_ms / 1000.0);
			break;
		case '-':
			u.delay_ms -= u.delay_ms <= 1000 ? 100 : 1000;
			if (u.delay_ms < 100)
				u.delay_ms = 100;
			snprintf(u.message, sizeof(u.message),
				 "refresh every %.1f s", u.delay_ms / 1000.0);
			next = now_s() + u.delay_ms / 1000.0;
			break;
		case 'K':
		case '\t':
			u.show_keys = !u.show_keys;
			sample(&u);
			break;
		case 'k':
			signal_selected(&u);
			break;
		case KEY_UP:
			if (u.selected > 0)
				u.selected--;
			break;
		case KEY_DOWN:
			if (u.selected + 1 < (int)u.nrows)
				u.selected++;
			break;
		case KEY_PPAGE:
			u.selected -= rows / 2;
			if (u.selected < 0)
				u.selected = 0;
			break;
		case KEY_NPAGE:
			u.selected += rows / 2;
			if (u.selected >= (int)u.nrows)
				u.selected = u.nrows ? (int)u.nrows - 1 : 0;
			break;
		case KEY_HOME:
			u.selected = 0;
			break;
		case KEY_END:
			u.selected = u.nrows ? (int)u.nrows - 1 : 0;
			break;
		case KEY_RESIZE:
		default:
			break;
		}
	}
out:
	endwin();
	free(u.rows);
	return 0;
}
