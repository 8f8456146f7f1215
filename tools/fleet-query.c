/* fleet-query.c - placeholder while the readers are written. */
#include "config.h"

#include "tools/fleet.h"

static int not_yet(struct fleet_run *r)
{
	(void)r;
	fputs("smithers: not built yet\n", stderr);
	return EXIT_FAIL;
}

const struct fleet_sub fleet_sub_executions = {"executions", "", "", "",
					       FLEET_OPT_POSTGRES, 0, 0,
					       not_yet};
const struct fleet_sub fleet_sub_agents = {"agents", "", "", "",
					   FLEET_OPT_POSTGRES, 0, 0, not_yet};
const struct fleet_sub fleet_sub_costs = {"costs", "", "", "",
					  FLEET_OPT_POSTGRES, 0, 0, not_yet};
const struct fleet_sub fleet_sub_top = {"top", "", "", "",
					FLEET_OPT_POSTGRES, 0, 0, not_yet};
