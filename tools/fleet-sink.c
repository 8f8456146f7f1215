/* fleet-sink.c - placeholder while the sink is written. */
#include "config.h"

#include "tools/fleet.h"

static int not_yet(struct fleet_run *r)
{
	(void)r;
	fputs("smithers: not built yet\n", stderr);
	return EXIT_FAIL;
}

const struct fleet_sub fleet_sub_sink = {"sink", "", "", "",
					 FLEET_OPT_NATS | FLEET_OPT_POSTGRES,
					 0, 0, not_yet};
