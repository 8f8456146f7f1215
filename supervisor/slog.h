/*
 * slog.h - the supervisor's log: every line to stderr and, once opened, to
 * .smithers/supervisor.log ("TIME smithers[PID]: LEVEL: message").
 * sup_log_reopen() is what SIGHUP does, for logrotate.
 */
#ifndef SMITHERS_SUP_SLOG_H
#define SMITHERS_SUP_SLOG_H

enum sup_level { SUP_DEBUG, SUP_INFO, SUP_WARN, SUP_ERROR };

/* Open (or reopen) PATH for appending; stderr only until then. Returns 0,
 * or -1 with errno (the log keeps going to stderr). */
int sup_log_open(const char *path);
int sup_log_reopen(void);
void sup_log_close(void);
/* Lines below LEVEL are dropped (default SUP_INFO). */
void sup_log_level(enum sup_level level);
void sup_log(enum sup_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Keep the lines below SUP_ERROR from now on, until sup_log_flush() writes
 * them (an error line, a reopen or the close writes them too). */
void sup_log_hold(void);
void sup_log_flush(void);

#endif /* SMITHERS_SUP_SLOG_H */
