/* SPDX-License-Identifier: MIT */
/*
 * What the viommu commands share (cli_common.c), and the commands main()
 * dispatches to. Everything here exits on bad input (die()): the tool's
 * exit status is the contract, see viommu.c.
 */
#ifndef VIOMMU_TOOLS_CLI_COMMON_H
#define VIOMMU_TOOLS_CLI_COMMON_H

#include <libviommu/viommu.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { EXIT_FAULT = 1, EXIT_USAGE = 2, EXIT_BUDGET = 3 };

/* Program name in error messages. */
extern const char *const prog;

/* "viommu: <message>" on stderr, then exit(code). */
_Noreturn void die(int code, const char *fmt, ...);

/* Unsigned number (decimal, 0x hex or 0 octal); false if not one. */
bool parse_u64(const char *s, uint64_t *out);
/* parse_u64() or die "OPT: invalid number". */
uint64_t need_u64(const char *opt, const char *s);
/* BB:DD.F (hex) or a plain number, or die. */
uint16_t parse_sid(const char *s);
/* "BB:DD.F" */
void sid_str(uint16_t sid, char buf[16]);
/* "-", "r", "w" or "rw" */
const char *perm_str(unsigned p);

/* ---- guest RAM from --ram files --------------------------------------- */

/* Number of RAM files loaded so far. */
extern unsigned nram;
/* Load --ram FILE[@GPA] (mmapped read-only), or die. */
void add_ram_file(const char *arg);
/* Name a GPA as "FILE+0xOFF" (or why no file backs it). */
void gpa_where(uint64_t gpa, char *buf, size_t n);
/* The host read callback over the RAM files; -1 for a hole. */
int host_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len);
/* A context with the RAM files registered and the given walk budget. */
/* The --ram file that overlaps guest-physical [first, last], or NULL. */
const char *ram_overlap(uint64_t first, uint64_t last);
/* make_ctx() with the caller's host ops (reads should be host_read). */
struct viommu_ctx *make_ctx_ops(const struct viommu_host_ops *ops, uint64_t walk_entries);
struct viommu_ctx *make_ctx(uint64_t walk_entries);

/* ---- the commands: argv after the command word; return the exit status - */

/* The AMD-Vi event name of an event code (cmd_tables.c). */
const char *amd_event_name(unsigned ev);

int cmd_tables(const char *cmd, int argc, char **argv); /* translate, dump, check */
int cmd_remap(int argc, char **argv);
int cmd_virtio(int argc, char **argv);
int cmd_acpi(int argc, char **argv);

#endif
