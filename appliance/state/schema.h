/* Slipway's database schema as an ordered list of migrations.  Append only: a released migration is
 * never edited, a change is a new entry at the end. */
#pragma once

#include <stddef.h>

#include "migrate.h"

extern const Migration state_migrations[];
extern const size_t state_migrations_n;
