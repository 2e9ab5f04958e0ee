/* Polling git components that set --poll DUR (components.source poll_sec): each is fetched once per DUR and
 * a new head commit of its branch is queued as a build with trigger "poll" (the build-once rule applies:
 * a commit already built is not queued again).  A failing fetch is logged once until it works again. */
#pragma once

#include "macro.h"
#include "pipeline.h"

typedef struct PipelinePoller PipelinePoller;

/* Starts the poller thread over p (which must outlive it). */
int pipeline_poller_new(Pipeline *p, const char *db_path, PipelinePoller **ret);
/* Stops the thread (a fetch under way ends first) and frees; accepts NULL. */
PipelinePoller *pipeline_poller_free(PipelinePoller *pp);
DEFINE_TRIVIAL_CLEANUP_FUNC(PipelinePoller *, pipeline_poller_free);
