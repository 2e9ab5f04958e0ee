/* The issue-5 model, one header per entity (projects, environments, components, service addresses,
 * releases, instances, deploy log) plus allocation; this umbrella keeps `#include "model.h"` working.
 * Every function is one statement or one transaction; names are validated by the caller (names.h). */
#pragma once

#include "allocation.h"
#include "approval-db.h"
#include "component-db.h"
#include "config-value-db.h"
#include "deploy-log-db.h"
#include "environment-db.h"
#include "instance-db.h"
#include "project-db.h"
#include "registry-db.h"
#include "release-bake-db.h"
#include "release-db.h"
#include "service-address-db.h"
#include "vault-db.h"
