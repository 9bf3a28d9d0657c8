// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for tools/insn-profile: counts the guest instructions
 * executed per translation block (by start address; all of user space as one
 * entry), and the executions of every direct call or jump of the kernel (site
 * and target), so that a report can give instructions and calls per symbol
 * and the callers of any function. It writes its counts at exit to out=PATH,
 * and a snapshot to PATH.N each time the guest executes the mark
 * "xchg %bx,%bx" (fsbench with FSBENCH_MARK=1 marks its timed phases).
 *
 * Lines: "PC INSNS EXECS", and "E SITE TARGET COUNT" for the calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define SLOTS (1u << 22)
struct ent { uint64_t pc; uint64_t count; uint64_t execs; };
static struct ent *tab;
static const char *out = "/tmp/insn.txt";

static struct ent *slot(uint64_t pc)
{
	uint64_t h = (pc * 0x9E3779B97F4A7C15ull) >> 42;
	for (unsigned i = 0; i < 64; i++) {
		struct ent *e = &tab[(h + i) & (SLOTS - 1)];
		if (e->pc == pc)
			return e;
		if (!e->pc) {
			e->pc = pc;
			return e;
		}
	}
	return NULL;
}

static void trans_mark(struct qemu_plugin_tb *tb);

/* Call sites: TBs that end with a direct call (e8 rel32) or jump (e9 rel32). */
struct edge { uint64_t site; uint64_t target; uint64_t count; };
#define ESLOTS (1u << 20)
static struct edge *etab;

static struct edge *eslot(uint64_t site, uint64_t target)
{
	uint64_t h = ((site ^ (target << 7)) * 0x9E3779B97F4A7C15ull) >> 44;
	for (unsigned i = 0; i < 64; i++) {
		struct edge *e = &etab[(h + i) & (ESLOTS - 1)];
		if (e->site == site && e->target == target)
			return e;
		if (!e->site) {
			e->site = site;
			e->target = target;
			return e;
		}
	}
	return NULL;
}

static void trans_edge(struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	struct qemu_plugin_insn *insn;
	const uint8_t *d;
	uint64_t va, target;
	int32_t rel;
	struct edge *e;

	if (!n)
		return;
	insn = qemu_plugin_tb_get_insn(tb, n - 1);
	if (qemu_plugin_insn_size(insn) != 5)
		return;
	d = qemu_plugin_insn_data(insn);
	if (d[0] != 0xe8 && d[0] != 0xe9)
		return;
	va = qemu_plugin_insn_vaddr(insn);
	if (va < 0xffff800000000000ull)
		return;
	memcpy(&rel, d + 1, 4);
	target = va + 5 + (int64_t)rel;
	e = eslot(va, target);
	if (e)
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &e->count, 1);
}

static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	trans_edge(tb);
	trans_mark(tb);
	uint64_t pc = qemu_plugin_tb_vaddr(tb);
	struct ent *e;

	if (pc < 0xffff800000000000ull)
		pc = 1; /* user space, all of it */
	e = slot(pc);
	if (e)
	{
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &e->count,
							 qemu_plugin_tb_n_insns(tb));
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &e->execs, 1);
	}
}

static void dump(const char *path);

/* xchg %bx,%bx (66 87 db), a guest's mark: each one writes a snapshot out.N. */
static unsigned marks;
static void on_mark(unsigned int vcpu, void *udata)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s.%u", out, marks++);
	dump(path);
}

static void trans_mark(struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		const uint8_t *d = qemu_plugin_insn_data(insn);

		if (qemu_plugin_insn_size(insn) == 3 && d[0] == 0x66 && d[1] == 0x87 && d[2] == 0xdb)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

static void done(qemu_plugin_id_t id, void *p)
{
	dump(out);
}

static void dump(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	for (unsigned i = 0; i < SLOTS; i++)
		if (tab[i].count)
			fprintf(f, "%llx %llu %llu\n", (unsigned long long)tab[i].pc,
				(unsigned long long)tab[i].count, (unsigned long long)tab[i].execs);
	for (unsigned i = 0; i < ESLOTS; i++)
		if (etab[i].count)
			fprintf(f, "E %llx %llx %llu\n", (unsigned long long)etab[i].site,
				(unsigned long long)etab[i].target, (unsigned long long)etab[i].count);
	fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out = argv[i] + 4;
	tab = calloc(SLOTS, sizeof(*tab));
	etab = calloc(ESLOTS, sizeof(*etab));
	if (!tab || !etab)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
	qemu_plugin_register_atexit_cb(id, done, NULL);
	return 0;
}
