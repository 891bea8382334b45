/*
 * src/answer.c — resolution inside one zone. Finds the node for the
 * name (stopping at zone cuts, falling back to the wildcard at the closest
 * encloser), follows CNAMEs within the zone, and writes RRsets: regional
 * A/AAAA from the client's region, others from the zone file.
 */
#include "autoconf.h"
#include "answer.h"

#include <string.h>

#include "config.h"
#include "dnssec.h"
#include "region.h"
#include "snapshot.h"
#include "wire.h"
#include "zone.h"

/* A CNAME chain longer than this is cut where it stands. */
#define CNAME_CHAIN_MAX 16
/* Distinct target names whose addresses go in the additional section of
 * an NS, MX or SRV answer; later ones are left out (bounded work). */
#define ADDITIONAL_TARGETS_MAX 32

struct answer_ctx {
	const struct answer_request *req;
	const struct zone *zone;
	struct wire_writer *w;
	struct answer_result *res;
	/* DNSSEC: set only with DO=1 in a signed zone (see sec_* below) */
	const struct dnssec_zone *dz;
	int region;             /* the regional answer's region */
	uint16_t regional_type; /* A or AAAA, as answered */
	const uint8_t *wild[CNAME_CHAIN_MAX + 1]; /* owners synthesised */
	unsigned wild_count; /* from wildcards: proofs owed */
};

enum lookup_kind { FOUND, NOT_FOUND, DELEGATED };

struct lookup {
	enum lookup_kind kind;
	const struct zone_node *node; /* FOUND: the node (maybe a wildcard);
					   DELEGATED: the zone cut */
};

/*
 * Walks from the apex down to name, one label at a time. Every ancestor of
 * an existing name exists (empty non-terminals), so the first missing one
 * ends the walk at the closest encloser.
 */
static inline void zone_lookup(const struct zone *z, const uint8_t *name,
			       size_t len, unsigned labels,
			       const uint64_t *hash, uint16_t qtype,
			       struct lookup *out)
{
	const struct zone_node *node = z->apex;
	for (unsigned l = z->origin_labels + 1; l <= labels; l++) {
		const struct zone_node *n;
		if (l == labels && hash != NULL) {
			n = zone_find_node_hashed(z, name, len, *hash);
		} else {
			const uint8_t *suffix = dname_strip(name, labels - l);
			n = zone_find_node_len(z, suffix,
					       len - (size_t)(suffix - name));
		}
		if (n == NULL)
			break;
		node = n;
		// DS lives on the parent side of a cut
		bool ds_at_cut = l == labels && qtype == TYPE_DS;
		if ((n->flags & ZONE_NODE_DELEGATION) && !ds_at_cut) {
			*out = (struct lookup){DELEGATED, n};
			return;
		}
	}
	if (node->labels == labels) {
		*out = (struct lookup){FOUND, node};
		return;
	}
	// RFC 4592: the source of synthesis is *.<closest encloser>
	uint8_t wild[DNAME_MAX];
	if (node->name_len + 2 <= DNAME_MAX) {
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, node->name, node->name_len);
		const struct zone_node *wn = zone_find_node(z, wild);
		if (wn != NULL) {
			*out = (struct lookup){FOUND, wn};
			return;
		}
	}
	*out = (struct lookup){NOT_FOUND, NULL};
}

static void put_rr_header(struct wire_writer *w, const uint8_t *owner,
			  uint16_t type, uint32_t ttl)
{
	wire_put_name(w, owner);
	wire_put_u16(w, type);
	wire_put_u16(w, CLASS_IN);
	wire_put_u32(w, ttl);
}

/* Writes every record of rrset with owner and ttl; returns the count. */
static uint16_t put_rrset(struct wire_writer *w, const uint8_t *owner,
			  const struct zone_rrset *rrset, uint32_t ttl)
{
	const uint8_t *rd = rrset->rdata;
	for (uint16_t i = 0; i < rrset->count; i++) {
		put_rr_header(w, owner, rrset->type, ttl);
		wire_put_rdata(w, rrset->type, rd);
		rd += 2 + ((size_t)rd[0] << 8 | rd[1]);
	}
	return rrset->count;
}

/* ---- DNSSEC hooks (dnssec.c does the work); no-ops without c->dz ---- */

/* The RRSIGs of rrset at node, after it, in the same section. */
static uint16_t sec_rrsig(struct answer_ctx *c, const struct zone_node *node,
			  const struct zone_rrset *rrset, const uint8_t *owner,
			  uint32_t ttl)
{
	return c->dz == NULL
		       ? 0
		       : dnssec_put_rrsig(c->dz, c->w, node, rrset, owner, ttl);
}

/* Owner was answered from the wildcard node: owe the proof that owner
 * itself does not exist (RFC 4035 §3.1.3.3). */
static void sec_wildcard_note(struct answer_ctx *c,
			      const struct zone_node *node,
			      const uint8_t *owner)
{
	if (c->dz != NULL && node->name[0] == 1 && node->name[1] == '*' &&
	    !dname_equal(node->name, owner) &&
	    c->wild_count < CNAME_CHAIN_MAX + 1)
		c->wild[c->wild_count++] = owner;
}

/* Writes the owed wildcard proofs into the authority section. */
static void sec_flush(struct answer_ctx *c)
{
	for (unsigned i = 0; i < c->wild_count; i++)
		c->res->nscount += dnssec_put_wildcard(c->dz, c->w, c->wild[i]);
	c->wild_count = 0;
}

/* NODATA at node (region >= 0: the regional variant's NSEC). */
static void sec_nodata(struct answer_ctx *c, const struct zone_node *node,
		       int region, const uint8_t *owner)
{
	if (c->dz == NULL)
		return;
	c->res->nscount += dnssec_put_nodata(c->dz, c->w, node, region, owner);
	sec_flush(c);
}

static void sec_nxdomain(struct answer_ctx *c, const uint8_t *name)
{
	if (c->dz == NULL)
		return;
	c->res->nscount += dnssec_put_nxdomain(c->dz, c->w, name);
	sec_flush(c);
}

/* After a regional answer: its RRSIG, or the region's NODATA proof. */
static void sec_regional(struct answer_ctx *c, const struct zone_node *node,
			 const uint8_t *owner, uint16_t ancount_before)
{
	if (c->dz == NULL)
		return;
	if (c->res->ancount == ancount_before) {
		sec_nodata(c, node, c->region, owner);
		return;
	}
	c->res->ancount += dnssec_put_regional_rrsig(
		c->dz, c->w, node, c->region, c->regional_type, owner);
	sec_wildcard_note(c, node, owner);
}

/* A referral's DS and its RRSIG, or the NSEC proving there is no DS. */
static void sec_referral(struct answer_ctx *c, const struct zone_node *cut)
{
	if (c->dz == NULL)
		return;
	c->res->nscount += dnssec_put_referral(c->dz, c->w, cut);
	sec_flush(c);
}

/* The decision in brief, for metrics and dnstap (struct query_result):
 * the region that answered (after shed and a service's spread) and why
 * the client's region was what it was. */
static void answer_note_decision(struct answer_result *res,
				 const struct region_decision *dec,
				 const struct region_service_choice *ch)
{
	res->region = ch->region;
	res->reason = dec->reason;
	res->shed = dec->shed;
	res->runtime = dec->runtime;
	res->ecs_private = dec->ecs_private;
	res->embedded_v4 = dec->offset != 0;
}

/* The client's region for node's service (after shed and the service's
 * spread): decides, notes the decision and the scope in c->res, and
 * returns the region that answers. */
static inline int answer_decide(struct answer_ctx *c,
				const struct zone_node *node)
{
	const struct snapshot *s = c->req->snap;
	struct region_decision dec;
	region_decide(s->regions, s->shed, c->req->client, &dec);
	struct region_service_choice ch;
	region_service_choose(s->regions, s->shed, node->service, &dec, &ch);
	c->res->regional = true;
	c->res->scope = ch.scope;
	answer_note_decision(c->res, &dec, &ch);
	return ch.region;
}

/* qtype NSEC or RRSIG with DO: the records themselves (dnssec.c says
 * which); a regional name's NSEC is the client's region's variant. */
static uint16_t sec_meta(struct answer_ctx *c, const struct zone_node *node,
			 const uint8_t *owner)
{
	if (c->dz == NULL)
		return 0;
	int region = -1;
	if (node->flags & ZONE_NODE_REGIONAL)
		region = answer_decide(c, node);
	uint16_t n = dnssec_put_meta(c->dz, c->w, node, region, c->req->qtype,
				     owner);
	if (n > 0) {
		c->res->ancount += n;
		sec_wildcard_note(c, node, owner);
		sec_flush(c);
	}
	return n;
}

/*
 * The zone's pre-encoded SOA (zone_negative_for) when nothing but the
 * question precedes it and no DNSSEC records follow: copied, its
 * compression pointers moved by the question's length. False: write it.
 */
static bool put_negative_encoded(struct answer_ctx *c)
{
	const struct answer_request *req = c->req;
	struct wire_writer *w = c->w;
	size_t at = WIRE_HEADER_SIZE + req->qname_len + 4;
	if (c->dz != NULL || req->qname_len == 0 || w->len != at ||
	    w->overflow || c->res->ancount != 0 || c->res->nscount != 0)
		return false;
	const struct zone_negative *neg = zone_negative_for(
		c->zone, req->qname, req->qname_len, req->qlabels);
	if (neg == NULL)
		return false;
	wire_put_bytes(w, neg->bytes, neg->len);
	if (!w->overflow) {
		uint16_t shift =
			(uint16_t)(req->qname_len - c->zone->origin_len);
		for (unsigned i = 0; i < neg->ptr_count; i++) {
			uint8_t *p = w->buf + at + neg->ptr_at[i];
			wire_set_u16(p, (uint16_t)(wire_get_u16(p) + shift));
		}
		for (unsigned i = 0; i < neg->comp_count; i++)
			wire_remember_suffix(w, at + neg->comp_off[i],
					     neg->comp_labels[i]);
	}
	c->res->nscount++;
	return true;
}

static void put_negative(struct answer_ctx *c, uint8_t rcode)
{
	c->res->rcode = rcode;
	if (put_negative_encoded(c))
		return;
	c->res->nscount += put_rrset(c->w, c->zone->origin, c->zone->soa,
				     c->zone->negative_ttl);
	c->res->nscount += sec_rrsig(c, c->zone->apex, c->zone->soa,
				     c->zone->origin, c->zone->negative_ttl);
}

/*
 * The in-zone A and AAAA RRsets of target (a name server, mail exchanger
 * or service host), once per node: seen/seen_count list the nodes already
 * added. Regional targets are skipped: their addresses depend on the
 * client, and the resolver asks for them with its own ECS option.
 * optional: an RRset that does not fit is taken back whole and -1 is
 * returned (stop); otherwise the overflow stays, for the caller to set TC.
 */
static int put_target_addresses(struct answer_ctx *c, const uint8_t *target,
				const struct zone_node **seen,
				unsigned *seen_count, bool optional)
{
	if (target == NULL || !dname_is_subdomain(target, c->zone->origin))
		return 0;
	const struct zone_node *g = zone_find_node(c->zone, target);
	if (g == NULL || (g->flags & ZONE_NODE_REGIONAL))
		return 0;
	for (unsigned i = 0; i < *seen_count; i++)
		if (seen[i] == g)
			return 0; // RFC 2181 §5: no RR twice in a section
	if (*seen_count == ADDITIONAL_TARGETS_MAX)
		return -1;
	seen[(*seen_count)++] = g;
	static const uint16_t addr_types[] = {TYPE_A, TYPE_AAAA};
	for (size_t t = 0; t < 2; t++) {
		const struct zone_rrset *a = zone_node_rrset(g, addr_types[t]);
		if (a == NULL)
			continue;
		size_t len = c->w->len;
		uint16_t n = put_rrset(c->w, g->name, a, a->ttl);
		if (optional && c->w->overflow) {
			wire_truncate(c->w, len);
			return -1;
		}
		c->res->arcount += n;
	}
	return 0;
}

/*
 * Where the target name sits in one record's rdata (2-byte length, then
 * data), or NULL: not a type with a target, or rdata too short to hold a
 * whole name there (a record written as `\# LEN HEX` may be anything).
 */
static const uint8_t *rdata_target(uint16_t type, const uint8_t *rdata)
{
	size_t rdlen = (size_t)rdata[0] << 8 | rdata[1], off;
	switch (type) {
	case TYPE_NS:
		off = 0;
		break;
	case TYPE_MX:
		off = 2; // preference
		break;
	case TYPE_SRV:
		off = 6; // priority, weight, port
		break;
	default:
		return NULL;
	}
	const uint8_t *name = rdata + 2 + off;
	size_t pos = 0;
	while (off + pos < rdlen && pos < DNAME_MAX) {
		if (name[pos] == 0)
			return name;
		if (name[pos] > 63)
			return NULL;
		pos += (size_t)name[pos] + 1;
	}
	return NULL;
}

/* The target addresses of every record of rrset, in its order. */
static void put_rrset_targets(struct answer_ctx *c,
			      const struct zone_rrset *rrset, bool optional)
{
	const struct zone_node *seen[ADDITIONAL_TARGETS_MAX];
	unsigned seen_count = 0;
	const uint8_t *rd = rrset->rdata;
	for (uint16_t i = 0; i < rrset->count; i++) {
		if (put_target_addresses(c, rdata_target(rrset->type, rd), seen,
					 &seen_count, optional) < 0)
			return;
		rd += 2 + ((size_t)rd[0] << 8 | rd[1]);
	}
}

static void put_referral(struct answer_ctx *c, const struct zone_node *cut)
{
	const struct zone_rrset *ns = zone_node_rrset(cut, TYPE_NS);
	c->res->aa = c->res->ancount > 0; // AA only for data already in answer
	c->res->nscount += put_rrset(c->w, cut->name, ns, ns->ttl);
	sec_referral(c, cut);
	// glue: addresses of name servers that we hold, below the cut or not;
	// required data, so a referral that does not fit is truncated (TC)
	put_rrset_targets(c, ns, false);
}

/*
 * Additional-section addresses for an NS, MX or SRV answer (as NSD
 * gives them). Optional data: the first RRset that does not fit and all
 * after it are left out, and the answer goes out whole, without TC.
 */
static void put_additional(struct answer_ctx *c, const struct zone_rrset *rrset)
{
	if (rrset->type != TYPE_NS && rrset->type != TYPE_MX &&
	    rrset->type != TYPE_SRV)
		return;
	if (!c->w->overflow) // else the answer itself did not fit: TC
		put_rrset_targets(c, rrset, true);
}

static void ttl_patch(uint8_t *p, uint32_t ttl)
{
	p[0] = (uint8_t)(ttl >> 24);
	p[1] = (uint8_t)(ttl >> 16);
	p[2] = (uint8_t)(ttl >> 8);
	p[3] = (uint8_t)ttl;
}

/* Regional A/AAAA: the VIPs of node's service in the client's region
 * (or where the service's spread puts it), or NODATA. */
static void put_regional(struct answer_ctx *c, const struct zone_node *node,
			 const uint8_t *owner, uint16_t qtype)
{
	const struct snapshot *s = c->req->snap;
	int region = answer_decide(c, node);
	c->region = region;

	struct region_rrset rrs;
	if (qtype == TYPE_ANY) { // RFC 8482: one RRset stands for the node
		region_rrset(s->regions, node->service, region, TYPE_A, &rrs);
		qtype = rrs.count > 0 ? TYPE_A : TYPE_AAAA;
	}
	c->regional_type = qtype;
	region_rrset(s->regions, node->service, region, qtype, &rrs);
	if (rrs.count == 0) {
		put_negative(c, RCODE_NOERROR);
		return;
	}
	if (owner == c->req->qname) {
		// pre-encoded, the owner a pointer to the question name: copy
		// the records and patch the zone's TTL in
		size_t at = c->w->len;
		wire_put_bytes(c->w, rrs.bytes, (size_t)rrs.count * rrs.stride);
		if (!c->w->overflow) {
			uint8_t ttl[4];
			ttl_patch(ttl, c->zone->regional_ttl);
			uint8_t *p = c->w->buf + at + REGION_RR_TTL;
			for (size_t i = 0; i < rrs.count; i++, p += rrs.stride)
				memcpy(p, ttl, 4);
		}
	} else { // at the end of a CNAME chain: the owner is compressed
		for (size_t i = 0; i < rrs.count; i++) {
			const uint8_t *rr = rrs.bytes + i * rrs.stride;
			put_rr_header(c->w, owner, qtype,
				      c->zone->regional_ttl);
			wire_put_bytes(c->w, rr + REGION_RR_TTL + 4,
				       rrs.stride - REGION_RR_TTL - 4u);
		}
	}
	c->res->ancount += rrs.count;
}

static bool is_regional_type(uint16_t qtype)
{
	return qtype == TYPE_A || qtype == TYPE_AAAA || qtype == TYPE_ANY;
}

/*
 * Answers at node for owner. Returns the CNAME target to follow, or NULL
 * when the answer is complete.
 */
static const uint8_t *answer_node(struct answer_ctx *c,
				  const struct zone_node *node,
				  const uint8_t *owner)
{
	uint16_t qtype = c->req->qtype;
	if ((node->flags & ZONE_NODE_REGIONAL) && is_regional_type(qtype)) {
		uint16_t before = c->res->ancount;
		put_regional(c, node, owner, qtype);
		sec_regional(c, node, owner, before);
		return NULL;
	}
	const struct zone_rrset *cname = zone_node_rrset(node, TYPE_CNAME);
	if (cname != NULL && qtype != TYPE_CNAME) {
		c->res->ancount += put_rrset(c->w, owner, cname, cname->ttl);
		c->res->ancount += sec_rrsig(c, node, cname, owner, cname->ttl);
		sec_wildcard_note(c, node, owner);
		return cname->rdata + 2;
	}
	const struct zone_rrset *rrset = NULL;
	if (qtype == TYPE_ANY && node->rrset_count > 0)
		rrset = &node->rrsets[0]; // RFC 8482 minimal answer
	else
		rrset = zone_node_rrset(node, qtype);
	if (rrset == NULL && sec_meta(c, node, owner) > 0)
		return NULL;
	if (rrset == NULL) {
		put_negative(c, RCODE_NOERROR);
		sec_nodata(c, node, -1, owner);
		return NULL;
	}
	c->res->ancount += put_rrset(c->w, owner, rrset, rrset->ttl);
	c->res->ancount += sec_rrsig(c, node, rrset, owner, rrset->ttl);
	sec_wildcard_note(c, node, owner);
	if (c->dz != NULL)
		sec_flush(c); // authority before additional
	put_additional(c, rrset);
	return NULL;
}

/* Has the chain already answered at name? (a CNAME loop) */
static bool chain_visited(const uint8_t *const *visited, unsigned count,
			  const uint8_t *name)
{
	for (unsigned i = 0; i < count; i++)
		if (dname_equal(visited[i], name))
			return true;
	return false;
}

void answer_write(const struct answer_request *req, struct wire_writer *w,
		  struct answer_result *res)
{
	// member by member: wild[] is read only below wild_count, and
	// clearing it would cost more than the rest of a regional answer
	struct answer_ctx c;
	c.req = req;
	c.zone = req->zone;
	c.w = w;
	c.res = res;
	c.dz = NULL;
	c.region = -1;
	c.regional_type = 0;
	c.wild_count = 0;
	memset(res, 0, sizeof(*res));
	if (req->zone->expired) {
		// a secondary zone past its SOA expire (RFC 1034 §4.3.5)
		res->rcode = RCODE_SERVFAIL;
		return;
	}
	res->aa = true;
	if (req->dnssec_ok)
		c.dz = dnssec_set_zone(req->snap->dnssec, req->zone);

	const uint8_t *visited[CNAME_CHAIN_MAX + 1];
	const uint8_t *name = req->qname;
	for (unsigned hop = 0; hop <= CNAME_CHAIN_MAX; hop++) {
		visited[hop] = name;
		struct lookup lk;
		// the question's length and labels are known from its parse
		if (name == req->qname && req->qname_len > 0)
			zone_lookup(c.zone, name, req->qname_len, req->qlabels,
				    &req->qhash, req->qtype, &lk);
		else
			zone_lookup(c.zone, name, dname_length(name),
				    dname_labels(name), NULL, req->qtype, &lk);
		if (lk.kind == DELEGATED) {
			put_referral(&c, lk.node);
			return;
		}
		if (lk.kind == NOT_FOUND) {
			put_negative(&c, RCODE_NXDOMAIN);
			sec_nxdomain(&c, name);
			return;
		}
		const uint8_t *target = answer_node(&c, lk.node, name);
		// CNAMEs are followed inside this zone only, and never back to
		// a name already answered: a loop ends after its last new RR
		// (RFC 2181 §5: no RR twice in a section)
		if (target == NULL ||
		    !dname_is_subdomain(target, c.zone->origin) ||
		    chain_visited(visited, hop + 1, target))
			break;
		name = target;
	}
	if (c.dz != NULL)
		sec_flush(&c);
}
