/*
 * src/chaos.c — the CH TXT identity and version records and the NSID
 * option, pre-encoded from the config at snapshot build so that the
 * query path only copies bytes.
 */
#include "autoconf.h"
#include "chaos.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "wire.h"

// owner pointer (2) + type, class, ttl, rdlength (10) + one string (1 + 255)
#define CHAOS_RR_MAX (12 + 1 + CONFIG_TXT_MAX)

struct chaos_rr {
	bool shown;
	uint8_t bytes[CHAOS_RR_MAX];
	size_t len;
};

struct chaos {
	struct chaos_rr identity, version;
	uint8_t nsid[4 + CONFIG_NSID_MAX];
	size_t nsid_len; /* 0: off */
};

static void chaos_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

// A TXT record in class CH, TTL 0, owned by the question's name.
static void chaos_encode_txt(struct chaos_rr *rr, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	rr->shown = text != NULL;
	if (!rr->shown || n > CONFIG_TXT_MAX)
		return (void)(rr->shown = false);
	uint8_t *p = rr->bytes;
	chaos_put16(p, 0xc000 | WIRE_HEADER_SIZE);
	chaos_put16(p + 2, CHAOS_TYPE_TXT);
	chaos_put16(p + 4, CHAOS_CLASS);
	memset(p + 6, 0, 4);
	chaos_put16(p + 10, (uint16_t)(1 + n));
	p[12] = (uint8_t)n;
	memcpy(p + 13, text, n);
	rr->len = 13 + n;
}

struct chaos *chaos_build(const struct config *cfg, struct diag *d)
{
	struct chaos *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		diag_error(d, cfg->path, 0, "out of memory");
		return NULL;
	}
	chaos_encode_txt(&c->identity, cfg->identity);
	chaos_encode_txt(&c->version, cfg->version);
	if (cfg->nsid_len > 0 && cfg->nsid_len <= CONFIG_NSID_MAX) {
		chaos_put16(c->nsid, CHAOS_OPTION_NSID);
		chaos_put16(c->nsid + 2, (uint16_t)cfg->nsid_len);
		memcpy(c->nsid + 4, cfg->nsid, cfg->nsid_len);
		c->nsid_len = 4 + cfg->nsid_len;
	}
	return c;
}

void chaos_free(struct chaos *c)
{
	free(c);
}

const uint8_t *chaos_nsid_option(const struct chaos *c, size_t *len)
{
	*len = c->nsid_len;
	return c->nsid_len ? c->nsid : NULL;
}

// Canonical (lower-case) wire names; the question's name is canonical too.
static const uint8_t name_id_server[] = "\2id\6server";
static const uint8_t name_hostname_bind[] = "\10hostname\4bind";
static const uint8_t name_version_server[] = "\7version\6server";
static const uint8_t name_version_bind[] = "\7version\4bind";

static bool chaos_name_is(const uint8_t *qname, const uint8_t *name,
			  size_t size)
{
	// size counts the literal's final NUL: the root label
	return memcmp(qname, name, size) == 0;
}

static const struct chaos_rr *chaos_find(const struct chaos *c,
					 const uint8_t *qname)
{
	if (chaos_name_is(qname, name_id_server, sizeof(name_id_server)) ||
	    chaos_name_is(qname, name_hostname_bind,
			  sizeof(name_hostname_bind)))
		return &c->identity;
	if (chaos_name_is(qname, name_version_server,
			  sizeof(name_version_server)) ||
	    chaos_name_is(qname, name_version_bind, sizeof(name_version_bind)))
		return &c->version;
	return NULL;
}

uint16_t chaos_answer(const struct chaos *c, const uint8_t *qname,
		      uint16_t qtype, struct wire_writer *w, uint16_t *ancount)
{
	const struct chaos_rr *rr = chaos_find(c, qname);
	*ancount = 0;
	if (rr == NULL || !rr->shown)
		return RCODE_REFUSED;
	if (qtype != CHAOS_TYPE_TXT && qtype != TYPE_ANY)
		return RCODE_NOERROR;
	wire_put_bytes(w, rr->bytes, rr->len);
	*ancount = 1;
	return RCODE_NOERROR;
}
