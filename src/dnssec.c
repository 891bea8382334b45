/*
 * src/dnssec.c — DNSSEC signing at snapshot build and the proofs served
 * with DO=1. Keys come from BIND-format files (ldns); every RRset, the
 * NSEC chain and each region's variant of every regional name are signed
 * here once, so the query path only copies pre-built records. A
 * pre-signed zone file keeps its own RRSIGs and chain: only the regional
 * variants are signed here.
 */
#include "autoconf.h"
#include "dnssec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "config.h"
#include "diag.h"
#include "file.h"
#include "nsec3.h"
#include "wire.h"
#include "zone.h"

#define TYPE_RRSIG 46
#define TYPE_NSEC 47
#define TYPE_DNSKEY 48
#define TYPE_NSEC3 50
#define TYPE_NSEC3PARAM 51
#define NSEC3_SHA1 1
#define TYPE_CDS 59
#define TYPE_CDNSKEY 60
#define KEY_FILE_MAX (64 * 1024)
/* Signatures start this long before the signing time (clock skew). */
#define INCEPTION_SKEW 3600
/* Signed data is carved from blocks of this size. */
#define DS_CHUNK (1024 * 1024)

/* A region's variant of a regional name: its service's RRsets there. */
struct dnssec_variant {
	struct zone_rrset a_sig, aaaa_sig; /* count 0: no such RRset */
	struct zone_rrset nsec, nsec_sig;
};

/* nsec, nsec_sig: the node's NSEC, or its NSEC3 (owner: n3[n3].owner). */
struct dnssec_node {
	struct zone_rrset *sigs;          /* parallel to the node's rrsets */
	struct zone_rrset nsec, nsec_sig; /* count 0: not in the chain */
	struct dnssec_variant *variants;  /* per region, regional names only */
	uint32_t n3;                      /* NSEC3 zones: its entry in dz->n3 */
	uint32_t n3_wild; /* NSEC3 zones: the entry covering *.name */
};

struct chain_entry {
	const uint8_t *name;
	uint32_t node; /* index into zone->nodes */
};

/* One NSEC3 of the chain; the hash first (nsec3_find searches on it). */
struct n3_entry {
	uint8_t hash[NSEC3_HASH_LEN];
	uint32_t node;        /* index into zone->nodes */
	const uint8_t *owner; /* hash label + zone origin, wire form */
};

struct dnssec_zone {
	const struct zone *zone;
	struct dnssec_node *nodes; /* parallel to zone->nodes */
	struct chain_entry *chain; /* NSEC chain, canonical order */
	size_t chain_count;
	/* denial: nsec3 (then chain is empty) */
	bool nsec3;
	uint16_t n3_iterations;
	uint8_t n3_salt_len;
	uint8_t n3_salt[255];
	struct n3_entry *n3; /* sorted by hash */
	size_t n3_count;
};

struct dnssec_set {
	const struct zone_set *zs;
	struct dnssec_zone **zones; /* per zone index; NULL: unsigned */
	size_t zone_count;
	void **blocks; /* every allocation, freed at once */
	size_t block_count, block_cap;
	uint8_t *chunk; /* the block ds_alloc carves from */
	size_t chunk_left;
	time_t expire_at; /* 0: nothing signed */
	time_t resign_at; /* 0: nothing signed by geovip */
};

struct dkey {
	ldns_key *key;
	uint16_t tag;
	bool ksk; /* SEP flag (257) */
};

/* What one zone's signing needs. */
struct dbuild {
	const struct config *cfg;
	const struct config_zone *cz;
	struct diag *d;
	struct dnssec_set *ds;
	const struct zone *z;
	struct dnssec_zone *dz;
	ldns_key_list *zsk, *ksk; /* RRsets; DNSKEY */
	ldns_buffer *buf;
	time_t signed_at; /* the time the signatures count from */
	bool oom;
};

/* ---- canonical order (RFC 4034 §6.1) on lower-cased wire names -------- */

static int canon_cmp(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[128], *lb[128];
	int na = 0, nb = 0;
	for (const uint8_t *p = a; *p != 0 && na < 128; p += *p + 1)
		la[na++] = p;
	for (const uint8_t *p = b; *p != 0 && nb < 128; p += *p + 1)
		lb[nb++] = p;
	while (na > 0 && nb > 0) {
		const uint8_t *x = la[--na], *y = lb[--nb];
		int c = memcmp(x + 1, y + 1, *x < *y ? *x : *y);
		if (c != 0)
			return c;
		if (*x != *y)
			return *x < *y ? -1 : 1;
	}
	return (na > nb) - (na < nb);
}

static int chain_cmp(const void *pa, const void *pb)
{
	const struct chain_entry *a = pa, *b = pb;
	return canon_cmp(a->name, b->name);
}

/* ---- allocation ------------------------------------------------------- */

/* A new zeroed block of n bytes, owned by the set. */
static void *ds_block(struct dbuild *b, size_t n)
{
	struct dnssec_set *ds = b->ds;
	if (ds->block_count == ds->block_cap) {
		size_t cap = ds->block_cap ? ds->block_cap * 2 : 64;
		void **p = realloc(ds->blocks, cap * sizeof(*p));
		if (p == NULL) {
			b->oom = true;
			return NULL;
		}
		ds->blocks = p;
		ds->block_cap = cap;
	}
	void *p = calloc(1, n ? n : 1);
	if (p == NULL) {
		b->oom = true;
		return NULL;
	}
	ds->blocks[ds->block_count++] = p;
	return p;
}

/* n zeroed bytes (8-aligned) carved from CHUNK-sized blocks: millions of
 * small signatures cost no malloc overhead each. */
static void *ds_alloc(struct dbuild *b, size_t n)
{
	struct dnssec_set *ds = b->ds;
	n = (n + 7) & ~(size_t)7;
	if (n > DS_CHUNK / 4)
		return ds_block(b, n);
	if (n > ds->chunk_left) {
		ds->chunk = ds_block(b, DS_CHUNK);
		if (ds->chunk == NULL)
			return NULL;
		ds->chunk_left = DS_CHUNK;
	}
	void *p = ds->chunk;
	ds->chunk += n;
	ds->chunk_left -= n;
	return p;
}

/* ---- key files -------------------------------------------------------- */

static char *key_path(const char *base, const char *suffix)
{
	size_t n = strlen(base) + strlen(suffix) + 1;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s%s", base, suffix);
	return p;
}

/* The DNSKEY record of base.key: its first line that is not a comment. */
static ldns_rr *key_read_public(const struct config *cfg,
				const struct config_zone *cz, const char *base,
				struct diag *d)
{
	char *path = key_path(base, ".key"), *data = NULL;
	size_t len;
	ldns_rr *rr = NULL;
	if (path == NULL) {
		diag_error(d, cfg->path, cz->dnssec.line, "out of memory");
		return NULL;
	}
	int rc = file_read(path, KEY_FILE_MAX, &data, &len);
	if (rc < 0) {
		diag_error(d, cfg->path, cz->dnssec.line, "key file %s: %s",
			   path, file_strerror(rc));
		goto out;
	}
	unsigned line = 1;
	char *p = data;
	for (; *p != '\0'; line++) {
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		p += strspn(p, " \t\r");
		if (*p != '\0' && *p != ';')
			break;
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	ldns_rdf *origin = ldns_dname_new_frm_str(cz->origin_text);
	ldns_status st =
		*p == '\0' ? LDNS_STATUS_SYNTAX_EMPTY
			   : ldns_rr_new_frm_str(&rr, p, 3600, origin, NULL);
	if (st != LDNS_STATUS_OK) {
		diag_error(d, path, line, "not a DNSKEY record: %s",
			   ldns_get_errorstr_by_id(st));
		rr = NULL;
	} else if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY ||
		   ldns_rr_rd_count(rr) != 4) {
		diag_error(d, path, line, "not a DNSKEY record");
		ldns_rr_free(rr);
		rr = NULL;
	} else if (ldns_dname_compare(ldns_rr_owner(rr), origin) != 0) {
		diag_error(d, path, line, "the key is not for zone %s",
			   cz->origin_text);
		ldns_rr_free(rr);
		rr = NULL;
	}
	ldns_rdf_deep_free(origin);
out:
	free(data);
	free(path);
	return rr;
}

static bool key_algorithm_ok(unsigned alg)
{
	return alg == LDNS_RSASHA256 || alg == LDNS_ECDSAP256SHA256 ||
	       alg == LDNS_ED25519;
}

/*
 * The crypto library's own check of a private key (for RSA: primes,
 * exponents and coefficient agree). A flipped bit in an RSA prime leaves
 * the public key intact and still signs, through a slower fallback, yet
 * the file is damaged; ECDSA and Ed25519 keys derive their public key,
 * which key_read_private compares with the .key file's.
 */
static bool key_consistent(const ldns_key *k)
{
	EVP_PKEY *pk = ldns_key_evp_key(k);
	if (pk == NULL)
		return true;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
	// 1 good, 0 damaged, negative: no check for this key type
	int rc = ctx != NULL ? EVP_PKEY_check(ctx) : 1;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc != 0;
}

/* base.private, checked against the public key of base.key. */
static int key_read_private(const struct config *cfg,
			    const struct config_zone *cz, const char *base,
			    const ldns_rr *pub, struct diag *d,
			    struct dkey *out)
{
	char *path = key_path(base, ".private");
	if (path == NULL) {
		diag_error(d, cfg->path, cz->dnssec.line, "out of memory");
		return -1;
	}
	int rc = -1;
	int fd = file_open_regular(path);
	if (fd < 0) {
		diag_error(d, cfg->path, cz->dnssec.line, "key file %s: %s",
			   path, file_strerror(fd));
		goto out;
	}
	FILE *fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		diag_error(d, path, 0, "%s", strerror(errno));
		goto out;
	}
	int line = 1;
	ldns_key *k = NULL;
	ldns_status st = ldns_key_new_frm_fp_l(&k, fp, &line);
	fclose(fp);
	if (st != LDNS_STATUS_OK) {
		diag_error(d, path, (unsigned)line, "cannot read the key: %s",
			   ldns_get_errorstr_by_id(st));
		goto out;
	}
	uint16_t flags = ldns_rdf2native_int16(ldns_rr_rdf(pub, 0));
	unsigned alg = ldns_rdf2native_int8(ldns_rr_rdf(pub, 2));
	ldns_key_set_flags(k, flags);
	ldns_key_set_pubkey_owner(k, ldns_rdf_clone(ldns_rr_owner(pub)));
	ldns_rr *mine = ldns_key2rr(k);
	if (!key_algorithm_ok(alg) || ldns_key_algorithm(k) != alg) {
		diag_error(d, path, 0,
			   "algorithm %u is not supported (use 8, "
			   "13 or 15), or differs from the .key file",
			   alg);
	} else if (mine == NULL || ldns_rdf_compare(ldns_rr_rdf(mine, 3),
						    ldns_rr_rdf(pub, 3)) != 0) {
		diag_error(d, path, 0,
			   "the private key does not match the "
			   "public key in %s.key (damaged or mixed-up files)",
			   base);
	} else if (!key_consistent(k)) {
		diag_error(d, path, 0,
			   "the private key is damaged: its parts do not "
			   "agree (the crypto library's key check failed)");
	} else {
		out->key = k;
		out->tag = ldns_calc_keytag(pub);
		out->ksk = (flags & LDNS_KEY_SEP_KEY) != 0;
		ldns_key_set_keytag(k, out->tag);
		k = NULL;
		rc = 0;
	}
	ldns_rr_free(mine);
	if (k != NULL)
		ldns_key_deep_free(k);
out:
	free(path);
	return rc;
}

/* The NSEC3PARAM at the apex (TTL 0, as BIND and Knot publish it). */
static int nsec3param_record(const struct config *cfg,
			     const struct config_zone *cz, struct diag *d,
			     uint16_t file, zone_record_fn fn, void *ctx)
{
	uint8_t rd[5 + 255];
	rd[0] = NSEC3_SHA1;
	rd[1] = 0; // flags: no opt-out
	rd[2] = (uint8_t)(cz->dnssec.nsec3_iterations >> 8);
	rd[3] = (uint8_t)cz->dnssec.nsec3_iterations;
	rd[4] = cz->dnssec.nsec3_salt_len;
	memcpy(rd + 5, cz->dnssec.nsec3_salt, cz->dnssec.nsec3_salt_len);
	struct zone_record rec = {.owner = cz->origin,
				  .owner_len = cz->origin_len,
				  .rdata = rd,
				  .rdata_len = 5u + cz->dnssec.nsec3_salt_len,
				  .ttl = 0,
				  .type = TYPE_NSEC3PARAM,
				  .file = file,
				  .line = 0};
	if (fn(ctx, &rec) < 0) {
		diag_error(d, cfg->path, cz->dnssec.line, "out of memory");
		return -1;
	}
	return 0;
}

/* Hands rr's rdata to fn as a record of type at the apex. */
static int apex_record(const struct config *cfg, const struct config_zone *cz,
		       struct diag *d, uint16_t file, zone_record_fn fn,
		       void *ctx, const ldns_rr *rr, uint16_t type)
{
	ldns_buffer *buf = ldns_buffer_new(1024);
	int rc = -1;
	if (buf != NULL &&
	    ldns_rr_rdata2buffer_wire(buf, rr) == LDNS_STATUS_OK) {
		struct zone_record rec = {
			.owner = cz->origin,
			.owner_len = cz->origin_len,
			.rdata = ldns_buffer_begin(buf),
			.rdata_len = ldns_buffer_position(buf),
			.ttl = ldns_rr_ttl(rr),
			.type = type,
			.file = file,
			.line = 0,
		};
		rc = fn(ctx, &rec) < 0 ? -1 : 0;
	}
	if (rc < 0)
		diag_error(d, cfg->path, cz->dnssec.line, "out of memory");
	ldns_buffer_free(buf);
	return rc;
}

/* RFC 7344: CDNSKEY and CDS (SHA-256) of one DNSKEY. */
static int cds_records(const struct config *cfg, const struct config_zone *cz,
		       struct diag *d, uint16_t file, zone_record_fn fn,
		       void *ctx, const ldns_rr *key)
{
	if (apex_record(cfg, cz, d, file, fn, ctx, key, TYPE_CDNSKEY) < 0)
		return -1;
	ldns_rr *ds = ldns_key_rr2ds(key, LDNS_SHA256);
	if (ds == NULL) {
		diag_error(d, cfg->path, cz->dnssec.line, "out of memory");
		return -1;
	}
	int rc = apex_record(cfg, cz, d, file, fn, ctx, ds, TYPE_CDS);
	ldns_rr_free(ds);
	return rc;
}

static bool key_is_sep(const ldns_rr *key)
{
	return (ldns_rdf2native_int16(ldns_rr_rdf(key, 0)) &
		LDNS_KEY_SEP_KEY) != 0;
}

int dnssec_dnskey_records(const struct config *cfg,
			  const struct config_zone *cz, struct diag *d,
			  uint16_t file, zone_record_fn fn, void *ctx)
{
	ldns_rr *keys[CONFIG_DNSSEC_KEYS_MAX] = {NULL};
	size_t n = 0;
	bool any_sep = false;
	int rc = 0;
	for (; n < cz->dnssec.key_count && n < CONFIG_DNSSEC_KEYS_MAX; n++) {
		keys[n] = key_read_public(cfg, cz, cz->dnssec.keys[n], d);
		if (keys[n] == NULL) {
			rc = -1;
			break;
		}
		any_sep |= key_is_sep(keys[n]);
	}
	// the keys that sign the DNSKEY RRset (KSKs, or every key when none
	// has the SEP flag) are the ones the parent's DS may point to
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = apex_record(cfg, cz, d, file, fn, ctx, keys[i],
				 TYPE_DNSKEY);
		if (rc == 0 && cz->dnssec.cds &&
		    (key_is_sep(keys[i]) || !any_sep))
			rc = cds_records(cfg, cz, d, file, fn, ctx, keys[i]);
	}
	for (size_t i = 0; i < n; i++)
		ldns_rr_free(keys[i]);
	if (rc == 0 && cz->dnssec.nsec3)
		rc = nsec3param_record(cfg, cz, d, file, fn, ctx);
	return rc;
}

/* ---- signing ---------------------------------------------------------- */

/*
 * Signs one RRset given in zone form (count records of 2-byte length +
 * rdata) with keys; the RRSIGs go to out in the same form. 0, or -1.
 */
static int sign_rrset(struct dbuild *b, const uint8_t *owner, uint16_t type,
		      uint32_t ttl, const uint8_t *rdata, uint16_t count,
		      ldns_key_list *keys, struct zone_rrset *out)
{
	ldns_rr_list *list = ldns_rr_list_new();
	ldns_rr_list *sigs = NULL;
	uint8_t wire[DNAME_MAX + 10 + 65535];
	size_t olen = dname_length(owner);
	int rc = -1;
	if (list == NULL)
		goto oom;
	const uint8_t *rd = rdata;
	for (uint16_t i = 0; i < count; i++) {
		size_t rdlen = (size_t)rd[0] << 8 | rd[1];
		size_t n = 0, pos = 0;
		memcpy(wire, owner, olen);
		n = olen;
		wire[n++] = (uint8_t)(type >> 8);
		wire[n++] = (uint8_t)type;
		wire[n++] = 0;
		wire[n++] = CLASS_IN;
		wire[n++] = (uint8_t)(ttl >> 24);
		wire[n++] = (uint8_t)(ttl >> 16);
		wire[n++] = (uint8_t)(ttl >> 8);
		wire[n++] = (uint8_t)ttl;
		memcpy(wire + n, rd, 2 + rdlen);
		n += 2 + rdlen;
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, wire, n, &pos, LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK)
			goto bad;
		if (!ldns_rr_list_push_rr(list, rr)) {
			ldns_rr_free(rr);
			goto oom;
		}
		rd += 2 + rdlen;
	}
	sigs = ldns_sign_public(list, keys);
	if (sigs == NULL)
		goto bad;
	ldns_buffer_clear(b->buf);
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		size_t at = ldns_buffer_position(b->buf);
		ldns_buffer_write_u16(b->buf, 0);
		if (ldns_rr_rdata2buffer_wire(
			    b->buf, ldns_rr_list_rr(sigs, i)) != LDNS_STATUS_OK)
			goto oom;
		ldns_buffer_write_u16_at(
			b->buf, at,
			(uint16_t)(ldns_buffer_position(b->buf) - at - 2));
	}
	size_t len = ldns_buffer_position(b->buf);
	uint8_t *copy = ds_alloc(b, len);
	if (copy == NULL)
		goto out;
	memcpy(copy, ldns_buffer_begin(b->buf), len);
	*out = (struct zone_rrset){
		.type = TYPE_RRSIG,
		.count = (uint16_t)ldns_rr_list_rr_count(sigs),
		.ttl = ttl,
		.rdata = copy,
		.rdata_len = len};
	rc = 0;
	goto out;
bad : {
	char text[DNAME_TEXT_MAX], tn[16];
	dname_to_text(text, owner);
	diag_error(b->d, b->cfg->path, b->cz->dnssec.line, "cannot sign %s %s",
		   text, zone_read_type_name(type, tn));
	goto out;
}
oom:
	b->oom = true;
out:
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(list);
	return rc;
}

/* Is node below a zone cut of z (occluded: glue, not signed)? */
static bool node_occluded(const struct zone *z, const struct zone_node *n)
{
	for (unsigned strip = 1; n->labels - strip > z->origin_labels;
	     strip++) {
		const struct zone_node *a =
			zone_find_node(z, dname_strip(n->name, strip));
		if (a != NULL && (a->flags & ZONE_NODE_DELEGATION))
			return true;
	}
	return false;
}

static bool node_in_chain(const struct zone *z, const struct zone_node *n)
{
	return (n->rrset_count > 0 || (n->flags & ZONE_NODE_REGIONAL)) &&
	       !node_occluded(z, n);
}

static bool rrset_signed(const struct zone_node *n, uint16_t type)
{
	if (n->flags & ZONE_NODE_DELEGATION)
		return type == TYPE_DS;
	if (n->flags & ZONE_NODE_REGIONAL)
		return type != TYPE_A && type != TYPE_AAAA; // superseded
	return true;
}

static void types_add(uint16_t *types, size_t *n, uint16_t t)
{
	size_t i = *n;
	for (size_t j = 0; j < *n; j++)
		if (types[j] == t)
			return;
	while (i > 0 && types[i - 1] > t) {
		types[i] = types[i - 1];
		i--;
	}
	types[i] = t;
	(*n)++;
}

/* RFC 4034 §4.1.2 type bitmap of n sorted types, written at out. */
static size_t bitmap_write(uint8_t *out, const uint16_t *types, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n;) {
		unsigned window = types[i] >> 8;
		uint8_t bits[32] = {0};
		unsigned used = 0;
		for (; i < n && (types[i] >> 8) == window; i++) {
			unsigned lo = types[i] & 0xff;
			bits[lo / 8] |= (uint8_t)(0x80 >> (lo % 8));
			used = lo / 8 + 1;
		}
		out[len++] = (uint8_t)window;
		out[len++] = (uint8_t)used;
		memcpy(out + len, bits, used);
		len += used;
	}
	return len;
}

/*
 * The types at node n as its NSEC/NSEC3 lists them (RRSIG, NSEC and
 * NSEC3 aside): at a zone cut NS and DS only; at a regional name the
 * file's types but A and AAAA, which has_a/has_aaaa decide. -1 when there
 * are too many.
 */
static int node_types(struct dbuild *b, const struct zone_node *n, bool has_a,
		      bool has_aaaa, uint16_t *types, size_t *nt)
{
	*nt = 0;
	if (n->rrset_count > 1024 - 4) {
		char text[DNAME_TEXT_MAX];
		dname_to_text(text, n->name);
		diag_error(b->d, b->cfg->path, b->cz->dnssec.line,
			   "%s has more than 1020 RR types: too many to sign",
			   text);
		return -1;
	}
	for (uint16_t r = 0; r < n->rrset_count; r++) {
		uint16_t t = n->rrsets[r].type;
		if ((n->flags & ZONE_NODE_DELEGATION) && t != TYPE_NS &&
		    t != TYPE_DS)
			continue;
		if ((n->flags & ZONE_NODE_REGIONAL) &&
		    (t == TYPE_A || t == TYPE_AAAA))
			continue;
		types_add(types, nt, t);
	}
	if (has_a)
		types_add(types, nt, TYPE_A);
	if (has_aaaa)
		types_add(types, nt, TYPE_AAAA);
	return 0;
}

/* Copies the rdata in tmp (2-byte length first) into the set as a
 * one-record RRset of type and signs it at owner. */
static int sign_denial_rr(struct dbuild *b, const uint8_t *owner, uint16_t type,
			  const uint8_t *tmp, size_t len, struct zone_rrset *rs,
			  struct zone_rrset *sig)
{
	uint8_t *rd = ds_alloc(b, 2 + len);
	if (rd == NULL)
		return -1;
	memcpy(rd, tmp, 2 + len);
	rd[0] = (uint8_t)(len >> 8);
	rd[1] = (uint8_t)len;
	*rs = (struct zone_rrset){.type = type,
				  .count = 1,
				  .ttl = b->z->negative_ttl,
				  .rdata = rd,
				  .rdata_len = 2 + len};
	return sign_rrset(b, owner, type, rs->ttl, rd, 1, b->zsk, sig);
}

/* Room for the longest NSEC or NSEC3 rdata: every bitmap window full. */
#define DENIAL_RDATA_MAX (2 + 6 + 255 + 1 + DNAME_MAX + 256 * (2 + 32))

/*
 * The NSEC at chain position i and its RRSIG. has_a/has_aaaa: for a
 * regional name, whether the variant has those RRsets.
 */
static int sign_nsec(struct dbuild *b, size_t i, bool has_a, bool has_aaaa,
		     struct zone_rrset *nsec, struct zone_rrset *sig)
{
	const struct dnssec_zone *dz = b->dz;
	const struct zone_node *n = &b->z->nodes[dz->chain[i].node];
	const uint8_t *next = dz->chain[(i + 1) % dz->chain_count].name;
	uint16_t types[1024];
	size_t nt = 0;
	if (node_types(b, n, has_a, has_aaaa, types, &nt) < 0)
		return -1;
	types_add(types, &nt, TYPE_RRSIG);
	types_add(types, &nt, TYPE_NSEC);
	size_t next_len = dname_length(next);
	uint8_t tmp[DENIAL_RDATA_MAX];
	memcpy(tmp + 2, next, next_len);
	size_t len = next_len + bitmap_write(tmp + 2 + next_len, types, nt);
	return sign_denial_rr(b, n->name, TYPE_NSEC, tmp, len, nsec, sig);
}

/*
 * The NSEC3 (RFC 5155 §3) at position i of the hashed chain and its
 * RRSIG. The bitmap has RRSIG when the name has signed RRsets (not at an
 * insecure delegation, not at an empty non-terminal) and never NSEC3:
 * that type lives at the hashed owner.
 */
static int sign_nsec3(struct dbuild *b, size_t i, bool has_a, bool has_aaaa,
		      struct zone_rrset *nsec3, struct zone_rrset *sig)
{
	const struct dnssec_zone *dz = b->dz;
	const struct n3_entry *e = &dz->n3[i];
	const struct zone_node *n = &b->z->nodes[e->node];
	uint16_t types[1024];
	size_t nt = 0;
	if (node_types(b, n, has_a, has_aaaa, types, &nt) < 0)
		return -1;
	bool signed_here = (n->flags & ZONE_NODE_DELEGATION)
				   ? zone_node_rrset(n, TYPE_DS) != NULL
				   : nt > 0;
	if (signed_here)
		types_add(types, &nt, TYPE_RRSIG);
	uint8_t tmp[DENIAL_RDATA_MAX];
	size_t len = 0;
	uint8_t *p = tmp + 2;
	p[len++] = NSEC3_SHA1;
	p[len++] = 0; // flags: no opt-out
	p[len++] = (uint8_t)(dz->n3_iterations >> 8);
	p[len++] = (uint8_t)dz->n3_iterations;
	p[len++] = dz->n3_salt_len;
	memcpy(p + len, dz->n3_salt, dz->n3_salt_len);
	len += dz->n3_salt_len;
	p[len++] = NSEC3_HASH_LEN;
	memcpy(p + len, dz->n3[(i + 1) % dz->n3_count].hash, NSEC3_HASH_LEN);
	len += NSEC3_HASH_LEN;
	len += bitmap_write(p + len, types, nt);
	return sign_denial_rr(b, e->owner, TYPE_NSEC3, tmp, len, nsec3, sig);
}

/* The NSEC or NSEC3 at position i of the zone's chain. */
static int sign_denial(struct dbuild *b, size_t i, bool has_a, bool has_aaaa,
		       struct zone_rrset *rs, struct zone_rrset *sig)
{
	return b->dz->nsec3 ? sign_nsec3(b, i, has_a, has_aaaa, rs, sig)
			    : sign_nsec(b, i, has_a, has_aaaa, rs, sig);
}

/* The node index at position i of the zone's chain. */
static uint32_t denial_node(const struct dnssec_zone *dz, size_t i)
{
	return dz->nsec3 ? dz->n3[i].node : dz->chain[i].node;
}

#define VIP_RDATA_MAX (64 * 18)

/* The A or AAAA RRset of count VIPs in zone form at rd: its length, or 0
 * when they do not fit. */
static size_t vip_rdata(const struct ip_addr *vips, size_t count, uint16_t type,
			uint8_t rd[VIP_RDATA_MAX])
{
	unsigned alen = type == TYPE_A ? 4 : 16;
	size_t len = 0;
	for (size_t i = 0; i < count; i++) {
		if (len + 2 + alen > VIP_RDATA_MAX)
			return 0;
		rd[len++] = 0;
		rd[len++] = (uint8_t)alen;
		memcpy(rd + len, vips[i].bytes, alen);
		len += alen;
	}
	return len;
}

/* The A or AAAA RRset of a region's VIPs in zone form, signed. */
static int sign_vips(struct dbuild *b, const struct zone_node *n,
		     const struct ip_addr *vips, size_t count, uint16_t type,
		     struct zone_rrset *sig)
{
	if (count == 0)
		return 0;
	uint8_t rd[VIP_RDATA_MAX];
	if (vip_rdata(vips, count, type, rd) == 0) {
		diag_error(b->d, b->cfg->path, b->cz->dnssec.line,
			   "too many VIPs in one region to sign");
		return -1;
	}
	return sign_rrset(b, n->name, type, b->z->regional_ttl, rd,
			  (uint16_t)count, b->zsk, sig);
}

static int sign_regional(struct dbuild *b, size_t ci)
{
	uint32_t idx = denial_node(b->dz, ci);
	const struct zone_node *n = &b->z->nodes[idx];
	struct dnssec_node *dn = &b->dz->nodes[idx];
	size_t nreg = b->cfg->region_count;
	dn->variants = ds_alloc(b, nreg * sizeof(*dn->variants));
	if (dn->variants == NULL)
		return -1;
	// the variant of region r is the node's service's RRsets there; a
	// region without the service is never answered from (its clients
	// are spread), so its empty variant is never served
	for (size_t r = 0; r < nreg; r++) {
		struct config_vipset vips;
		config_vips(b->cfg, n->service, (int)r, &vips);
		struct dnssec_variant *v = &dn->variants[r];
		if (sign_vips(b, n, vips.v4, vips.v4_count, TYPE_A, &v->a_sig) <
			    0 ||
		    sign_vips(b, n, vips.v6, vips.v6_count, TYPE_AAAA,
			      &v->aaaa_sig) < 0 ||
		    sign_denial(b, ci, vips.v4_count > 0, vips.v6_count > 0,
				&v->nsec, &v->nsec_sig) < 0)
			return -1;
	}
	return 0;
}

/* Whether service has IPv4 (v6 false) or IPv6 (v6 true) VIPs in any
 * region. */
static bool any_region_has(const struct config *cfg, unsigned service, bool v6)
{
	for (size_t r = 0; r < cfg->region_count; r++) {
		struct config_vipset vips;
		config_vips(cfg, service, (int)r, &vips);
		if (v6 ? vips.v6_count : vips.v4_count)
			return true;
	}
	return false;
}

static int sign_node_rrsets(struct dbuild *b, uint32_t idx)
{
	const struct zone_node *n = &b->z->nodes[idx];
	struct dnssec_node *dn = &b->dz->nodes[idx];
	if (n->rrset_count == 0 || node_occluded(b->z, n))
		return 0;
	dn->sigs = ds_alloc(b, n->rrset_count * sizeof(*dn->sigs));
	if (dn->sigs == NULL)
		return -1;
	for (uint16_t r = 0; r < n->rrset_count; r++) {
		const struct zone_rrset *rs = &n->rrsets[r];
		if (!rrset_signed(n, rs->type))
			continue;
		// RFC 7344 §4.1: CDS and CDNSKEY signed as the DNSKEY RRset
		bool by_ksk = rs->type == TYPE_DNSKEY || rs->type == TYPE_CDS ||
			      rs->type == TYPE_CDNSKEY;
		ldns_key_list *keys = by_ksk ? b->ksk : b->zsk;
		if (sign_rrset(b, n->name, rs->type, rs->ttl, rs->rdata,
			       rs->count, keys, &dn->sigs[r]) < 0)
			return -1;
	}
	return 0;
}

static int build_chain(struct dbuild *b)
{
	const struct zone *z = b->z;
	b->dz->chain = ds_alloc(b, (z->node_count + 1) * sizeof(*b->dz->chain));
	if (b->dz->chain == NULL)
		return -1;
	for (size_t i = 0; i < z->node_count; i++)
		if (node_in_chain(z, &z->nodes[i]))
			b->dz->chain[b->dz->chain_count++] =
				(struct chain_entry){z->nodes[i].name,
						     (uint32_t)i};
	qsort(b->dz->chain, b->dz->chain_count, sizeof(*b->dz->chain),
	      chain_cmp);
	return 0;
}

/* H(name) with the zone's parameters, by ldns (cross-checked against
 * nsec3_hash, the query path's, in tests/unit/test_nsec3.c). */
static int n3_hash_ldns(struct dbuild *b, const uint8_t *name,
			uint8_t out[NSEC3_HASH_LEN])
{
	const struct dnssec_zone *dz = b->dz;
	ldns_rdf *n =
		ldns_dname_new_frm_data((uint16_t)dname_length(name), name);
	ldns_rdf *h =
		n == NULL
			? NULL
			: ldns_nsec3_hash_name(n, NSEC3_SHA1, dz->n3_iterations,
					       dz->n3_salt_len, dz->n3_salt);
	int rc = -1;
	// h is a name of one label: the hash in base32hex
	if (h != NULL && ldns_rdf_size(h) == NSEC3_LABEL_LEN + 2 &&
	    ldns_b32_pton_extended_hex((const char *)ldns_rdf_data(h) + 1,
				       NSEC3_LABEL_LEN, out,
				       NSEC3_HASH_LEN) == NSEC3_HASH_LEN)
		rc = 0;
	else
		b->oom = true;
	ldns_rdf_deep_free(h);
	ldns_rdf_deep_free(n);
	return rc;
}

static int n3_cmp(const void *pa, const void *pb)
{
	const struct n3_entry *a = pa, *b = pb;
	return memcmp(a->hash, b->hash, NSEC3_HASH_LEN);
}

/* Two names with one hash: no NSEC3 chain can tell them apart. */
static int n3_check_collisions(struct dbuild *b)
{
	const struct dnssec_zone *dz = b->dz;
	for (size_t i = 1; i < dz->n3_count; i++) {
		if (n3_cmp(&dz->n3[i - 1], &dz->n3[i]) != 0)
			continue;
		char x[DNAME_TEXT_MAX], y[DNAME_TEXT_MAX];
		dname_to_text(x, b->z->nodes[dz->n3[i - 1].node].name);
		dname_to_text(y, b->z->nodes[dz->n3[i].node].name);
		diag_error(b->d, b->cfg->path, b->cz->dnssec.line,
			   "NSEC3 hash collision between %s and %s: set "
			   "another nsec3 'salt'",
			   x, y);
		return -1;
	}
	return 0;
}

/* The hashed owner name: base32hex label, then the zone's origin. */
static const uint8_t *n3_owner(struct dbuild *b,
			       const uint8_t hash[NSEC3_HASH_LEN])
{
	uint8_t *o = ds_alloc(b, 1 + NSEC3_LABEL_LEN + b->z->origin_len);
	if (o == NULL)
		return NULL;
	o[0] = NSEC3_LABEL_LEN;
	nsec3_label(hash, (char *)o + 1);
	memcpy(o + 1 + NSEC3_LABEL_LEN, b->z->origin, b->z->origin_len);
	return o;
}

/* For each entry of the sorted NSEC3 chain: the node's own entry and the
 * one covering its wildcard child (an NXDOMAIN then hashes one name). */
static int n3_link_wild(struct dbuild *b)
{
	const struct zone *z = b->z;
	struct dnssec_zone *dz = b->dz;
	for (size_t i = 0; i < dz->n3_count; i++) {
		const struct zone_node *n = &z->nodes[dz->n3[i].node];
		struct dnssec_node *dn = &dz->nodes[dz->n3[i].node];
		uint8_t wild[DNAME_MAX], h[NSEC3_HASH_LEN];
		int match;
		dn->n3 = (uint32_t)i;
		if (n->name_len + 2 > DNAME_MAX)
			continue; // no wildcard child can exist
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, n->name, n->name_len);
		if (n3_hash_ldns(b, wild, h) < 0)
			return -1;
		dn->n3_wild = (uint32_t)nsec3_find(dz->n3, dz->n3_count,
						   sizeof(*dz->n3), h, &match);
	}
	return 0;
}

/*
 * RFC 5155 §7.1: one NSEC3 for every name that is not occluded (empty
 * non-terminals and zone cuts included; no opt-out), sorted by hash; and
 * for each of them the entry covering its wildcard child, so that an
 * NXDOMAIN hashes only the next closer name while answering.
 */
static int build_n3_chain(struct dbuild *b)
{
	const struct zone *z = b->z;
	struct dnssec_zone *dz = b->dz;
	if (z->origin_len + 1 + NSEC3_LABEL_LEN > DNAME_MAX) {
		diag_error(b->d, b->cfg->path, b->cz->dnssec.line,
			   "zone %s: origin too long for NSEC3 owner names",
			   b->cz->origin_text);
		return -1;
	}
	dz->n3 = ds_alloc(b, (z->node_count + 1) * sizeof(*dz->n3));
	if (dz->n3 == NULL)
		return -1;
	for (size_t i = 0; i < z->node_count; i++) {
		if (node_occluded(z, &z->nodes[i]))
			continue;
		struct n3_entry *e = &dz->n3[dz->n3_count++];
		e->node = (uint32_t)i;
		if (n3_hash_ldns(b, z->nodes[i].name, e->hash) < 0 ||
		    (e->owner = n3_owner(b, e->hash)) == NULL)
			return -1;
	}
	qsort(dz->n3, dz->n3_count, sizeof(*dz->n3), n3_cmp);
	if (n3_check_collisions(b) < 0)
		return -1;
	return n3_link_wild(b);
}

/* The NSEC/NSEC3 at chain position ci; at a regional name, its variants
 * too. */
static int sign_chain_entry(struct dbuild *b, size_t ci)
{
	uint32_t idx = denial_node(b->dz, ci);
	struct dnssec_node *dn = &b->dz->nodes[idx];
	const struct zone_node *n = &b->z->nodes[idx];
	bool regional = n->flags & ZONE_NODE_REGIONAL;
	// a regional name's own NSEC (for other types and for names it
	// covers) lists every type some region answers for its service, so
	// no resolver can deny an address a region has
	bool any4 = regional && any_region_has(b->cfg, n->service, false);
	bool any6 = regional && any_region_has(b->cfg, n->service, true);
	if (sign_denial(b, ci, any4, any6, &dn->nsec, &dn->nsec_sig) < 0)
		return -1;
	return regional ? sign_regional(b, ci) : 0;
}

static size_t chain_length(const struct dnssec_zone *dz)
{
	return dz->nsec3 ? dz->n3_count : dz->chain_count;
}

static int sign_zone_data(struct dbuild *b)
{
	const struct zone *z = b->z;
	for (size_t i = 0; i < z->node_count; i++)
		if (sign_node_rrsets(b, (uint32_t)i) < 0)
			return -1;
	for (size_t ci = 0; ci < chain_length(b->dz); ci++)
		if (sign_chain_entry(b, ci) < 0)
			return -1;
	return 0;
}

/* ---- pre-signed zone files -------------------------------------------- */

/*
 * A signed file's records serve as they are: the RRSIGs of every RRset,
 * the NSEC or NSEC3 chain (the file's parameters). geovip signs only
 * what depends on the region: at each regional name, which the file
 * must have in its chain (a placeholder A record signed with the file),
 * the A/AAAA RRsets of each region and the name's NSEC/NSEC3, its type
 * bitmap per variant; the next name or hash stays the file's.
 */

#define SLOT_DENIAL UINT32_MAX

static size_t rec_rdlen(const struct zone_signed_record *r)
{
	return (size_t)r->rdata[0] << 8 | r->rdata[1];
}

static struct zone_rrset rec_set(const struct zone_signed_record *r)
{
	return (struct zone_rrset){.type = r->type,
				   .count = 1,
				   .ttl = r->ttl,
				   .rdata = r->rdata,
				   .rdata_len = 2 + rec_rdlen(r)};
}

static void ps_name(const uint8_t *name, char out[DNAME_TEXT_MAX])
{
	dname_to_text(out, name);
}

/* The hash an NSEC3 owner (base32hex label + origin) stands for. */
static int ps_owner_hash(const struct zone *z, const uint8_t *owner,
			 uint8_t hash[NSEC3_HASH_LEN])
{
	if (owner[0] != NSEC3_LABEL_LEN ||
	    !dname_equal(owner + 1 + NSEC3_LABEL_LEN, z->origin))
		return -1;
	return ldns_b32_pton_extended_hex((const char *)owner + 1,
					  NSEC3_LABEL_LEN, hash,
					  NSEC3_HASH_LEN) == NSEC3_HASH_LEN
		       ? 0
		       : -1;
}

/* NSEC3 parameters from the apex NSEC3PARAM, as the file's chain uses. */
static int ps_nsec3_params(struct dbuild *b)
{
	struct dnssec_zone *dz = b->dz;
	const struct zone_rrset *p =
		zone_node_rrset(b->z->apex, TYPE_NSEC3PARAM);
	const uint8_t *rd = p != NULL ? p->rdata + 2 : NULL;
	size_t len = p != NULL ? ((size_t)p->rdata[0] << 8 | p->rdata[1]) : 0;
	if (p == NULL || p->count != 1 || len < 5 || len != 5u + rd[4] ||
	    rd[0] != NSEC3_SHA1) {
		diag_error(b->d, b->cz->file, 0,
			   "the signed zone file has NSEC3 records but not "
			   "one NSEC3PARAM (SHA-1) at the apex");
		return -1;
	}
	dz->nsec3 = true;
	dz->n3_iterations = (uint16_t)(rd[2] << 8 | rd[3]);
	dz->n3_salt_len = rd[4];
	memcpy(dz->n3_salt, rd + 5, rd[4]);
	if (dz->n3_iterations > CONFIG_NSEC3_ITERATIONS_MAX) {
		diag_error(b->d, b->cz->file, 0,
			   "the signed zone file's NSEC3 chain uses %u "
			   "iterations; at most %d are served (RFC 9276: 0)",
			   dz->n3_iterations, CONFIG_NSEC3_ITERATIONS_MAX);
		return -1;
	}
	return 0;
}

/* An NSEC3 record of the file: the chain's parameters, no opt-out. */
static int ps_nsec3_check(struct dbuild *b, const struct zone_signed_record *r)
{
	const struct dnssec_zone *dz = b->dz;
	const uint8_t *rd = r->rdata + 2;
	size_t len = rec_rdlen(r);
	char owner[DNAME_TEXT_MAX];
	ps_name(r->owner, owner);
	if (len >= 5 && (rd[1] & 1)) {
		diag_error(b->d, b->cz->file, r->line,
			   "NSEC3 at '%s' has the opt-out flag: opt-out "
			   "chains are not served; sign without opt-out",
			   owner);
		return -1;
	}
	if (len < 5u + dz->n3_salt_len || rd[0] != NSEC3_SHA1 ||
	    (rd[2] << 8 | rd[3]) != dz->n3_iterations ||
	    rd[4] != dz->n3_salt_len ||
	    memcmp(rd + 5, dz->n3_salt, dz->n3_salt_len) != 0) {
		diag_error(b->d, b->cz->file, r->line,
			   "NSEC3 at '%s' does not use the parameters of the "
			   "apex NSEC3PARAM",
			   owner);
		return -1;
	}
	return 0;
}

/* The file's NSEC chain: every name in it must be a name of the zone. */
static int ps_nsec_chain(struct dbuild *b, size_t count)
{
	const struct zone *z = b->z;
	struct dnssec_zone *dz = b->dz;
	dz->chain = ds_alloc(b, (count + 1) * sizeof(*dz->chain));
	if (dz->chain == NULL)
		return -1;
	for (size_t i = 0; i < z->signed_count; i++) {
		const struct zone_signed_record *r = &z->signed_records[i];
		if (r->type != TYPE_NSEC)
			continue;
		const struct zone_node *n = zone_find_node(z, r->owner);
		uint32_t idx = n != NULL ? (uint32_t)(n - z->nodes) : 0;
		if (n == NULL || node_occluded(z, n) ||
		    dz->nodes[idx].nsec.count > 0) {
			char owner[DNAME_TEXT_MAX];
			ps_name(r->owner, owner);
			diag_error(b->d, b->cz->file, r->line,
				   "NSEC at '%s': %s", owner,
				   n == NULL ? "no such name with data"
				   : dz->nodes[idx].nsec.count > 0
					   ? "a second NSEC at one name"
					   : "below a delegation");
			return -1;
		}
		dz->nodes[idx].nsec = rec_set(r);
		dz->chain[dz->chain_count++] =
			(struct chain_entry){n->name, idx};
	}
	qsort(dz->chain, dz->chain_count, sizeof(*dz->chain), chain_cmp);
	return 0;
}

/* One NSEC3 of the file while its chain is sorted: hash and record. */
struct ps_n3 {
	uint8_t hash[NSEC3_HASH_LEN];
	const struct zone_signed_record *rec;
};

static int ps_n3_cmp(const void *pa, const void *pb)
{
	return memcmp(((const struct ps_n3 *)pa)->hash,
		      ((const struct ps_n3 *)pb)->hash, NSEC3_HASH_LEN);
}

/* The file's NSEC3 records, sorted by hash, checked, in dz->n3. */
static int ps_n3_read(struct dbuild *b, struct ps_n3 *tmp, size_t *count)
{
	const struct zone *z = b->z;
	size_t n = 0;
	for (size_t i = 0; i < z->signed_count; i++) {
		const struct zone_signed_record *r = &z->signed_records[i];
		if (r->type != TYPE_NSEC3)
			continue;
		if (ps_owner_hash(z, r->owner, tmp[n].hash) < 0) {
			char owner[DNAME_TEXT_MAX];
			ps_name(r->owner, owner);
			diag_error(b->d, b->cz->file, r->line,
				   "NSEC3 at '%s': not a hashed owner name "
				   "(base32hex label, then the origin)",
				   owner);
			return -1;
		}
		if (ps_nsec3_check(b, r) < 0)
			return -1;
		tmp[n++].rec = r;
	}
	qsort(tmp, n, sizeof(*tmp), ps_n3_cmp);
	for (size_t i = 1; i < n; i++) {
		if (ps_n3_cmp(&tmp[i - 1], &tmp[i]) != 0)
			continue;
		char owner[DNAME_TEXT_MAX];
		ps_name(tmp[i].rec->owner, owner);
		diag_error(b->d, b->cz->file, tmp[i].rec->line,
			   "a second NSEC3 at '%s'", owner);
		return -1;
	}
	*count = n;
	return 0;
}

/* The node whose hash is entry j of the chain, or an error. */
static int ps_n3_match(struct dbuild *b, const struct ps_n3 *tmp)
{
	const struct zone *z = b->z;
	struct dnssec_zone *dz = b->dz;
	for (size_t i = 0; i < z->node_count; i++) {
		const struct zone_node *n = &z->nodes[i];
		uint8_t h[NSEC3_HASH_LEN];
		int match = 0;
		if (node_occluded(z, n))
			continue;
		if (n3_hash_ldns(b, n->name, h) < 0)
			return -1;
		size_t j = nsec3_find(dz->n3, dz->n3_count, sizeof(*dz->n3), h,
				      &match);
		if (!match) {
			char name[DNAME_TEXT_MAX];
			ps_name(n->name, name);
			diag_error(b->d, b->cz->file, 0,
				   (n->flags & ZONE_NODE_REGIONAL)
					   ? "regional name '%s' is not in the "
					     "signed file's NSEC3 chain: give "
					     "it a placeholder A record in the "
					     "unsigned file and sign it again"
					   : "'%s' has no NSEC3 in the signed "
					     "file (opt-out chains are not "
					     "served)",
				   name);
			return -1;
		}
		dz->n3[j].node = (uint32_t)i;
		dz->nodes[i].nsec = rec_set(tmp[j].rec);
	}
	for (size_t j = 0; j < dz->n3_count; j++) {
		if (dz->n3[j].node != UINT32_MAX)
			continue;
		char owner[DNAME_TEXT_MAX];
		ps_name(dz->n3[j].owner, owner);
		diag_error(b->d, b->cz->file, tmp[j].rec->line,
			   "NSEC3 at '%s' is the hash of no name of the zone",
			   owner);
		return -1;
	}
	return 0;
}

static int ps_n3_chain(struct dbuild *b, size_t count)
{
	struct dnssec_zone *dz = b->dz;
	struct ps_n3 *tmp = malloc((count + 1) * sizeof(*tmp));
	int rc = -1;
	dz->n3 = ds_alloc(b, (count + 1) * sizeof(*dz->n3));
	if (tmp == NULL || dz->n3 == NULL) {
		b->oom = true;
		goto out;
	}
	if (ps_n3_read(b, tmp, &dz->n3_count) < 0)
		goto out;
	for (size_t j = 0; j < dz->n3_count; j++) {
		memcpy(dz->n3[j].hash, tmp[j].hash, NSEC3_HASH_LEN);
		dz->n3[j].owner = tmp[j].rec->owner;
		dz->n3[j].node = UINT32_MAX;
	}
	if (ps_n3_match(b, tmp) == 0)
		rc = n3_link_wild(b);
out:
	free(tmp);
	return rc;
}

/* What one RRSIG of the file signs: node and RRset (or its denial). */
struct ps_sig {
	uint32_t node, slot;
	const struct zone_signed_record *rec;
};

static int ps_sig_cmp(const void *pa, const void *pb)
{
	const struct ps_sig *a = pa, *b = pb;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	return (a->slot > b->slot) - (a->slot < b->slot);
}

/* Where RRSIG r belongs; -1 when nothing geovip serves uses it (the
 * placeholder A at a regional name, glue, a delegation's NS). */
static int ps_sig_target(const struct dbuild *b,
			 const struct zone_signed_record *r, struct ps_sig *out)
{
	const struct zone *z = b->z;
	const struct dnssec_zone *dz = b->dz;
	if (rec_rdlen(r) < 18)
		return -1;
	uint16_t covered = (uint16_t)(r->rdata[2] << 8 | r->rdata[3]);
	const struct zone_node *n = zone_find_node(z, r->owner);
	out->rec = r;
	if (n == NULL) {
		uint8_t h[NSEC3_HASH_LEN];
		int match = 0;
		if (!dz->nsec3 || covered != TYPE_NSEC3 ||
		    ps_owner_hash(z, r->owner, h) < 0)
			return -1;
		size_t j = nsec3_find(dz->n3, dz->n3_count, sizeof(*dz->n3), h,
				      &match);
		if (!match)
			return -1;
		out->node = dz->n3[j].node;
		out->slot = SLOT_DENIAL;
		return 0;
	}
	out->node = (uint32_t)(n - z->nodes);
	if (covered == TYPE_NSEC && !dz->nsec3) {
		out->slot = SLOT_DENIAL;
		return 0;
	}
	const struct zone_rrset *rs = zone_node_rrset(n, covered);
	if (rs == NULL || !rrset_signed(n, covered) || node_occluded(z, n))
		return -1;
	out->slot = (uint32_t)(rs - n->rrsets);
	return 0;
}

/* The RRSIGs of one group (same node and slot) as one RRset. */
static int ps_sig_group(struct dbuild *b, const struct ps_sig *g, size_t n)
{
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += 2 + rec_rdlen(g[i].rec);
	uint8_t *rd = ds_alloc(b, bytes), *p = rd;
	if (rd == NULL || n > UINT16_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, g[i].rec->rdata, 2 + rec_rdlen(g[i].rec));
		p += 2 + rec_rdlen(g[i].rec);
	}
	const struct zone_node *node = &b->z->nodes[g->node];
	struct dnssec_node *dn = &b->dz->nodes[g->node];
	struct zone_rrset set = {.type = TYPE_RRSIG,
				 .count = (uint16_t)n,
				 .ttl = g->rec->ttl,
				 .rdata = rd,
				 .rdata_len = bytes};
	if (g->slot == SLOT_DENIAL) {
		dn->nsec_sig = set;
		return 0;
	}
	if (dn->sigs == NULL &&
	    (dn->sigs = ds_alloc(b, node->rrset_count * sizeof(*dn->sigs))) ==
		    NULL)
		return -1;
	dn->sigs[g->slot] = set;
	return 0;
}

/* Every RRset geovip serves from the file, and every NSEC/NSEC3 it does
 * not make itself, has its RRSIGs from the file. */
static int ps_check_signed(struct dbuild *b)
{
	const struct zone *z = b->z;
	for (size_t i = 0; i < z->node_count; i++) {
		const struct zone_node *n = &z->nodes[i];
		const struct dnssec_node *dn = &b->dz->nodes[i];
		uint16_t missing = 0;
		if (node_occluded(z, n))
			continue;
		for (uint16_t r = 0; r < n->rrset_count && !missing; r++)
			if (rrset_signed(n, n->rrsets[r].type) &&
			    (dn->sigs == NULL || dn->sigs[r].count == 0))
				missing = n->rrsets[r].type;
		if (!missing && !(n->flags & ZONE_NODE_REGIONAL) &&
		    dn->nsec.count > 0 && dn->nsec_sig.count == 0)
			missing = dn->nsec.type;
		if (!missing)
			continue;
		char name[DNAME_TEXT_MAX], tn[16];
		ps_name(n->name, name);
		diag_error(b->d, b->cz->file, 0,
			   "'%s' %s has no RRSIG in the signed zone file: "
			   "sign the whole file again",
			   name, zone_read_type_name(missing, tn));
		return -1;
	}
	return 0;
}

static int ps_attach_sigs(struct dbuild *b)
{
	const struct zone *z = b->z;
	struct ps_sig *sigs = malloc((z->signed_count + 1) * sizeof(*sigs));
	size_t n = 0;
	int rc = -1;
	if (sigs == NULL) {
		b->oom = true;
		return -1;
	}
	for (size_t i = 0; i < z->signed_count; i++)
		if (z->signed_records[i].type == TYPE_RRSIG &&
		    ps_sig_target(b, &z->signed_records[i], &sigs[n]) == 0)
			n++;
	qsort(sigs, n, sizeof(*sigs), ps_sig_cmp);
	for (size_t s = 0, e; s < n; s = e) {
		for (e = s + 1; e < n && ps_sig_cmp(&sigs[s], &sigs[e]) == 0;
		     e++)
			;
		if (ps_sig_group(b, sigs + s, e - s) < 0)
			goto out;
	}
	rc = ps_check_signed(b);
out:
	free(sigs);
	return rc;
}

/* Regional names the file's NSEC chain lacks: no variant can be made. */
static int ps_check_nsec_regional(struct dbuild *b)
{
	const struct zone *z = b->z;
	for (size_t i = 0; i < z->node_count; i++) {
		const struct zone_node *n = &z->nodes[i];
		if (!node_in_chain(z, n) || b->dz->nodes[i].nsec.count > 0)
			continue;
		char name[DNAME_TEXT_MAX];
		ps_name(n->name, name);
		diag_error(
			b->d, b->cz->file, 0,
			(n->flags & ZONE_NODE_REGIONAL)
				? "regional name '%s' is not in the signed "
				  "file's NSEC chain: give it a placeholder "
				  "A record in the unsigned file and sign it "
				  "again"
				: "'%s' has no NSEC in the signed file: sign "
				  "the whole file again",
			name);
		return -1;
	}
	return 0;
}

/* A pre-signed zone: the file's chain and RRSIGs, the regional names
 * signed here. */
static int ps_build(struct dbuild *b)
{
	const struct zone *z = b->z;
	size_t nsec = 0, nsec3 = 0;
	for (size_t i = 0; i < z->signed_count; i++) {
		nsec += z->signed_records[i].type == TYPE_NSEC;
		nsec3 += z->signed_records[i].type == TYPE_NSEC3;
	}
	b->dz->nsec3 = false;
	if ((nsec > 0) == (nsec3 > 0)) {
		diag_error(b->d, b->cz->file, 0,
			   nsec > 0 ? "the signed zone file has both NSEC and "
				      "NSEC3 records"
				    : "the signed zone file has no NSEC or "
				      "NSEC3 records");
		return -1;
	}
	if (nsec3 > 0 ? ps_nsec3_params(b) < 0 || ps_n3_chain(b, nsec3) < 0
		      : ps_nsec_chain(b, nsec) < 0 ||
				ps_check_nsec_regional(b) < 0)
		return -1;
	if (ps_attach_sigs(b) < 0)
		return -1;
	for (size_t ci = 0; ci < chain_length(b->dz); ci++) {
		const struct zone_node *n = &z->nodes[denial_node(b->dz, ci)];
		if ((n->flags & ZONE_NODE_REGIONAL) &&
		    sign_chain_entry(b, ci) < 0)
			return -1;
	}
	return 0;
}

/* Is pub one of the DNSKEY records of the signed zone file? */
static bool key_in_file(struct dbuild *b, const ldns_rr *pub)
{
	const struct zone_rrset *ks = zone_node_rrset(b->z->apex, TYPE_DNSKEY);
	ldns_buffer_clear(b->buf);
	if (ks == NULL ||
	    ldns_rr_rdata2buffer_wire(b->buf, pub) != LDNS_STATUS_OK)
		return false;
	size_t len = ldns_buffer_position(b->buf);
	const uint8_t *rd = ks->rdata;
	for (uint16_t i = 0; i < ks->count; i++) {
		size_t n = (size_t)rd[0] << 8 | rd[1];
		if (n == len &&
		    memcmp(rd + 2, ldns_buffer_begin(b->buf), n) == 0)
			return true;
		rd += 2 + n;
	}
	return false;
}

static int keys_load(struct dbuild *b, struct dkey *keys, size_t *count)
{
	const struct config_zone *cz = b->cz;
	time_t now = b->signed_at;
	bool any_zsk = false, any_ksk = false;
	*count = 0;
	for (size_t i = 0; i < cz->dnssec.key_count; i++) {
		ldns_rr *pub =
			key_read_public(b->cfg, cz, cz->dnssec.keys[i], b->d);
		if (pub == NULL)
			return -1;
		if (b->z->signed_count > 0 && !key_in_file(b, pub)) {
			diag_error(b->d, b->cfg->path, cz->dnssec.line,
				   "key %s.key is not in the DNSKEY RRset of "
				   "the signed zone file %s: the regional "
				   "answers it signs would not validate",
				   cz->dnssec.keys[i], cz->file);
			ldns_rr_free(pub);
			return -1;
		}
		int rc = key_read_private(b->cfg, cz, cz->dnssec.keys[i], pub,
					  b->d, &keys[*count]);
		ldns_rr_free(pub);
		if (rc < 0)
			return -1;
		ldns_key *k = keys[*count].key;
		ldns_key_set_inception(k, (uint32_t)(now - INCEPTION_SKEW));
		ldns_key_set_expiration(k,
					(uint32_t)(now + cz->dnssec.validity));
		any_zsk |= !keys[*count].ksk;
		any_ksk |= keys[*count].ksk;
		(*count)++;
	}
	// KSK+ZSK: the KSKs sign the DNSKEY RRset only; without a ZSK, or
	// without a KSK, each key is a CSK and signs everything
	for (size_t i = 0; i < *count; i++) {
		if (keys[i].ksk || !any_zsk || !any_ksk)
			ldns_key_list_push_key(b->ksk, keys[i].key);
		if (!keys[i].ksk || !any_zsk)
			ldns_key_list_push_key(b->zsk, keys[i].key);
	}
	return 0;
}

static void key_list_release(ldns_key_list *l)
{
	if (l == NULL)
		return;
	ldns_key_list_set_key_count(l, 0); // the keys are freed on their own
	ldns_key_list_free(l);
}

static int sign_zone(struct dbuild *b)
{
	struct dkey keys[CONFIG_DNSSEC_KEYS_MAX];
	size_t nkeys = 0;
	int rc = -1;
	b->signed_at = time(NULL);
	b->zsk = ldns_key_list_new();
	b->ksk = ldns_key_list_new();
	b->buf = ldns_buffer_new(4096);
	b->dz = ds_alloc(b, sizeof(*b->dz));
	if (b->zsk == NULL || b->ksk == NULL || b->buf == NULL ||
	    b->dz == NULL) {
		b->oom = true;
		goto out;
	}
	b->dz->zone = b->z;
	b->dz->nsec3 = b->cz->dnssec.nsec3;
	b->dz->n3_iterations = b->cz->dnssec.nsec3_iterations;
	b->dz->n3_salt_len = b->cz->dnssec.nsec3_salt_len;
	memcpy(b->dz->n3_salt, b->cz->dnssec.nsec3_salt, b->dz->n3_salt_len);
	b->dz->nodes = ds_alloc(b, b->z->node_count * sizeof(*b->dz->nodes));
	if (b->dz->nodes == NULL || keys_load(b, keys, &nkeys) < 0)
		goto out;
	if (b->z->signed_count > 0
		    ? ps_build(b) < 0
		    : (b->dz->nsec3 ? build_n3_chain(b) : build_chain(b)) < 0 ||
			      sign_zone_data(b) < 0)
		goto out;
	// keys_load set every expiry from the same start time
	time_t exp = b->signed_at + b->cz->dnssec.validity;
	time_t due = exp - b->cz->dnssec.refresh;
	if (b->z->signed_count > 0) { // the file's own, serial arithmetic
		time_t file = b->signed_at +
			      (time_t)(int32_t)(b->z->signed_expire -
						(uint32_t)b->signed_at);
		exp = file < exp ? file : exp;
	}
	if (b->ds->expire_at == 0 || exp < b->ds->expire_at)
		b->ds->expire_at = exp;
	if (b->ds->resign_at == 0 || due < b->ds->resign_at)
		b->ds->resign_at = due;
	rc = 0;
out:
	if (b->oom)
		diag_error(b->d, b->cfg->path, b->cz->dnssec.line,
			   "zone %s: out of memory signing",
			   b->cz->origin_text);
	key_list_release(b->zsk);
	key_list_release(b->ksk);
	for (size_t i = 0; i < nkeys; i++)
		ldns_key_deep_free(keys[i].key);
	ldns_buffer_free(b->buf);
	return rc;
}

struct dnssec_set *dnssec_set_build(const struct config *cfg,
				    const struct zone_set *zs, struct diag *d)
{
	struct dnssec_set *ds = calloc(1, sizeof(*ds));
	size_t nz = zone_set_zone_count(zs);
	if (ds == NULL ||
	    (ds->zones = calloc(nz ? nz : 1, sizeof(*ds->zones))) == NULL) {
		free(ds);
		diag_error(d, cfg->path, 0, "out of memory signing zones");
		return NULL;
	}
	ds->zs = zs;
	ds->zone_count = nz;
	int failed = 0;
	for (size_t i = 0; i < nz; i++) {
		const struct zone *z = zone_set_zone(zs, i);
		const struct config_zone *cz = NULL;
		for (size_t j = 0; j < cfg->zone_count; j++)
			if (dname_equal(cfg->zones[j].origin, z->origin))
				cz = &cfg->zones[j];
		if (cz == NULL || cz->dnssec.key_count == 0)
			continue;
		struct dbuild b = {.cfg = cfg,
				   .cz = cz,
				   .d = d,
				   .ds = ds,
				   .z = z};
		if (sign_zone(&b) < 0)
			failed = -1;
		else
			ds->zones[i] = b.dz;
	}
	if (failed < 0) {
		dnssec_set_free(ds);
		return NULL;
	}
	return ds;
}

void dnssec_set_free(struct dnssec_set *ds)
{
	if (ds == NULL)
		return;
	for (size_t i = 0; i < ds->block_count; i++)
		free(ds->blocks[i]);
	free(ds->blocks);
	free(ds->zones);
	free(ds);
}

const struct dnssec_zone *dnssec_set_zone(const struct dnssec_set *ds,
					  const struct zone *z)
{
	if (ds == NULL || ds->zone_count == 0)
		return NULL;
	size_t i = (size_t)(z - zone_set_zone(ds->zs, 0));
	return i < ds->zone_count ? ds->zones[i] : NULL;
}

uint32_t dnssec_set_expiry(const struct dnssec_set *ds)
{
	time_t now = time(NULL);
	if (ds == NULL || ds->expire_at == 0)
		return 0;
	return ds->expire_at > now ? (uint32_t)(ds->expire_at - now) : 0;
}

int64_t dnssec_set_resign_at(const struct dnssec_set *ds)
{
	return ds == NULL ? 0 : (int64_t)ds->resign_at;
}

/* ---- serving ---------------------------------------------------------- */

/* Writes the records of rs (zone form) with owner and ttl. */
static uint16_t put_set(struct wire_writer *w, const uint8_t *owner,
			const struct zone_rrset *rs, uint32_t ttl)
{
	const uint8_t *rd = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		wire_put_name(w, owner);
		wire_put_u16(w, rs->type);
		wire_put_u16(w, CLASS_IN);
		wire_put_u32(w, ttl);
		wire_put_rdata(w, rs->type, rd);
		rd += 2 + ((size_t)rd[0] << 8 | rd[1]);
	}
	return rs->count;
}

static const struct dnssec_node *dnode(const struct dnssec_zone *dz,
				       const struct zone_node *n)
{
	return &dz->nodes[n - dz->zone->nodes];
}

uint16_t dnssec_put_rrsig(const struct dnssec_zone *dz, struct wire_writer *w,
			  const struct zone_node *node,
			  const struct zone_rrset *rrset, const uint8_t *owner,
			  uint32_t ttl)
{
	const struct dnssec_node *dn = dnode(dz, node);
	if (dn->sigs == NULL)
		return 0;
	return put_set(w, owner, &dn->sigs[rrset - node->rrsets], ttl);
}

uint16_t dnssec_put_regional_rrsig(const struct dnssec_zone *dz,
				   struct wire_writer *w,
				   const struct zone_node *node, int region,
				   uint16_t type, const uint8_t *owner)
{
	const struct dnssec_node *dn = dnode(dz, node);
	if (dn->variants == NULL || region < 0)
		return 0;
	const struct dnssec_variant *v = &dn->variants[region];
	return put_set(w, owner, type == TYPE_A ? &v->a_sig : &v->aaaa_sig,
		       dz->zone->regional_ttl);
}

/* The chain entry whose NSEC covers (or matches) name. */
static size_t chain_cover(const struct dnssec_zone *dz, const uint8_t *name)
{
	size_t lo = 0, hi = dz->chain_count; // apex is first, <= any name
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (canon_cmp(dz->chain[mid].name, name) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static uint16_t put_nsec(struct wire_writer *w, const uint8_t *owner,
			 const struct zone_rrset *nsec,
			 const struct zone_rrset *sig)
{
	if (nsec->count == 0)
		return 0;
	uint16_t n = put_set(w, owner, nsec, nsec->ttl);
	return (uint16_t)(n + put_set(w, owner, sig, nsec->ttl));
}

static uint16_t put_chain_nsec(const struct dnssec_zone *dz,
			       struct wire_writer *w, size_t ci)
{
	const struct chain_entry *e = &dz->chain[ci];
	const struct dnssec_node *dn = &dz->nodes[e->node];
	return put_nsec(w, e->name, &dn->nsec, &dn->nsec_sig);
}

static bool is_wildcard(const uint8_t *name)
{
	return name[0] == 1 && name[1] == '*';
}

/* ---- NSEC3 proofs (RFC 5155 §7.2) ---- */

/* Entries of dz->n3 already written in one proof: none twice. */
struct n3_written {
	uint32_t idx[4];
	unsigned count;
};

static uint16_t put_n3(const struct dnssec_zone *dz, struct wire_writer *w,
		       size_t i, const struct zone_rrset *nsec3,
		       const struct zone_rrset *sig, struct n3_written *seen)
{
	for (unsigned k = 0; k < seen->count; k++)
		if (seen->idx[k] == i)
			return 0;
	if (seen->count < 4)
		seen->idx[seen->count++] = (uint32_t)i;
	if (nsec3 == NULL) { // the name's own NSEC3, not a regional variant
		const struct dnssec_node *dn = &dz->nodes[dz->n3[i].node];
		nsec3 = &dn->nsec;
		sig = &dn->nsec_sig;
	}
	return put_nsec(w, dz->n3[i].owner, nsec3, sig);
}

static int n3_exists(const void *ctx, const uint8_t *name)
{
	return zone_find_node(ctx, name) != NULL;
}

/*
 * The NSEC3 covering the next closer name of qname (whose closest
 * encloser is ce): the one hash computed while answering, on the stack.
 */
static uint16_t put_n3_next_closer(const struct dnssec_zone *dz,
				   struct wire_writer *w,
				   const uint8_t *next_closer,
				   struct n3_written *seen)
{
	uint8_t h[NSEC3_HASH_LEN];
	int match;
	if (next_closer == NULL)
		return 0;
	nsec3_hash(next_closer, dz->n3_salt, dz->n3_salt_len, dz->n3_iterations,
		   h);
	size_t i = nsec3_find(dz->n3, dz->n3_count, sizeof(*dz->n3), h, &match);
	return put_n3(dz, w, i, NULL, NULL, seen);
}

static const uint8_t *n3_closest_encloser(const struct dnssec_zone *dz,
					  const uint8_t *qname,
					  const uint8_t **next_closer)
{
	return nsec3_closest_encloser(qname, dz->zone->origin_labels, n3_exists,
				      dz->zone, next_closer);
}

/* NODATA (§7.2.3-5): the NSEC3 matching the name; at a wildcard also the
 * closest encloser's and the one covering the next closer name. */
static uint16_t n3_nodata(const struct dnssec_zone *dz, struct wire_writer *w,
			  const struct zone_node *node,
			  const struct zone_rrset *nsec3,
			  const struct zone_rrset *sig, const uint8_t *qname)
{
	struct n3_written seen = {.count = 0};
	uint16_t n = 0;
	if (is_wildcard(node->name) && !dname_equal(node->name, qname)) {
		const uint8_t *next = NULL;
		const uint8_t *ce = n3_closest_encloser(dz, qname, &next);
		const struct zone_node *cn = zone_find_node(dz->zone, ce);
		n += put_n3(dz, w, dnode(dz, cn)->n3, NULL, NULL, &seen);
		n += put_n3_next_closer(dz, w, next, &seen);
	}
	return (uint16_t)(n + put_n3(dz, w, dnode(dz, node)->n3, nsec3, sig,
				     &seen));
}

/* NXDOMAIN (§7.2.2): the closest encloser proof and the NSEC3 covering
 * the wildcard at the closest encloser. */
static uint16_t n3_nxdomain(const struct dnssec_zone *dz, struct wire_writer *w,
			    const uint8_t *qname)
{
	struct n3_written seen = {.count = 0};
	const uint8_t *next = NULL;
	const uint8_t *ce = n3_closest_encloser(dz, qname, &next);
	const struct dnssec_node *cn = dnode(dz, zone_find_node(dz->zone, ce));
	uint16_t n = put_n3(dz, w, cn->n3, NULL, NULL, &seen);
	n += put_n3_next_closer(dz, w, next, &seen);
	return (uint16_t)(n + put_n3(dz, w, cn->n3_wild, NULL, NULL, &seen));
}

/* ---- NSEC and NSEC3 proofs, as answer.c asks for them ---- */

uint16_t dnssec_put_nodata(const struct dnssec_zone *dz, struct wire_writer *w,
			   const struct zone_node *node, int region,
			   const uint8_t *qname)
{
	const struct dnssec_node *dn = dnode(dz, node);
	const struct zone_rrset *nsec = &dn->nsec, *sig = &dn->nsec_sig;
	if (region >= 0 && dn->variants != NULL) {
		nsec = &dn->variants[region].nsec;
		sig = &dn->variants[region].nsec_sig;
	}
	if (dz->nsec3)
		return n3_nodata(dz, w, node, nsec, sig, qname);
	uint16_t n = 0;
	bool wild = is_wildcard(node->name) && !dname_equal(node->name, qname);
	if (wild || nsec->count == 0) {
		// the NSEC that covers qname; when that is the wildcard's own
		// (as for *.x and a.x), the one written below serves for both
		size_t qc = chain_cover(dz, qname);
		if (nsec->count == 0 || dz->chain[qc].name != node->name)
			n += put_chain_nsec(dz, w, qc);
	}
	if (nsec->count == 0)
		return n; // an empty non-terminal: the cover proves it
	return (uint16_t)(n + put_nsec(w, node->name, nsec, sig));
}

uint16_t dnssec_put_nxdomain(const struct dnssec_zone *dz,
			     struct wire_writer *w, const uint8_t *qname)
{
	if (dz->nsec3)
		return n3_nxdomain(dz, w, qname);
	const struct zone *z = dz->zone;
	size_t c1 = chain_cover(dz, qname);
	uint16_t n = put_chain_nsec(dz, w, c1);
	// the closest encloser: the longest existing ancestor of qname
	unsigned labels = dname_labels(qname);
	const uint8_t *ce = z->origin;
	for (unsigned strip = 1; labels - strip >= z->origin_labels; strip++) {
		const uint8_t *a = dname_strip(qname, strip);
		if (zone_find_node(z, a) != NULL) {
			ce = a;
			break;
		}
	}
	uint8_t wild[DNAME_MAX];
	size_t celen = dname_length(ce);
	if (celen + 2 > DNAME_MAX)
		return n;
	wild[0] = 1;
	wild[1] = '*';
	memcpy(wild + 2, ce, celen);
	size_t c2 = chain_cover(dz, wild);
	if (c2 != c1)
		n += put_chain_nsec(dz, w, c2);
	return n;
}

uint16_t dnssec_put_wildcard(const struct dnssec_zone *dz,
			     struct wire_writer *w, const uint8_t *qname)
{
	if (dz->nsec3) { // §7.2.6: the NSEC3 covering the next closer name
		struct n3_written seen = {.count = 0};
		const uint8_t *next = NULL;
		n3_closest_encloser(dz, qname, &next);
		return put_n3_next_closer(dz, w, next, &seen);
	}
	return put_chain_nsec(dz, w, chain_cover(dz, qname));
}

uint16_t dnssec_put_referral(const struct dnssec_zone *dz,
			     struct wire_writer *w, const struct zone_node *cut)
{
	const struct zone_rrset *ds = zone_node_rrset(cut, TYPE_DS);
	const struct dnssec_node *dn = dnode(dz, cut);
	if (ds == NULL && dz->nsec3) { // §7.2.7 without opt-out: it matches
		struct n3_written seen = {.count = 0};
		return put_n3(dz, w, dn->n3, NULL, NULL, &seen);
	}
	if (ds == NULL)
		return put_nsec(w, cut->name, &dn->nsec, &dn->nsec_sig);
	uint16_t n = put_set(w, cut->name, ds, ds->ttl);
	return (uint16_t)(n +
			  dnssec_put_rrsig(dz, w, cut, ds, cut->name, ds->ttl));
}

uint16_t dnssec_put_meta(const struct dnssec_zone *dz, struct wire_writer *w,
			 const struct zone_node *node, int region,
			 uint16_t qtype, const uint8_t *owner)
{
	const struct dnssec_node *dn = dnode(dz, node);
	const struct zone_rrset *nsec = &dn->nsec, *sig = &dn->nsec_sig;
	if (region >= 0 && dn->variants != NULL) {
		nsec = &dn->variants[region].nsec;
		sig = &dn->variants[region].nsec_sig;
	}
	if (qtype == TYPE_NSEC) // an NSEC3 zone has none: NODATA
		return dz->nsec3 ? 0 : put_nsec(w, owner, nsec, sig);
	if (qtype != TYPE_RRSIG)
		return 0;
	uint16_t n = 0;
	for (uint16_t r = 0; dn->sigs != NULL && r < node->rrset_count; r++)
		if (dn->sigs[r].count > 0)
			n += put_set(w, owner, &dn->sigs[r],
				     node->rrsets[r].ttl);
	if (!dz->nsec3 && nsec->count > 0)
		n += put_set(w, owner, sig, nsec->ttl);
	return n;
}

/* ---- --dump-signed ---- */

/* Prints the count records of rdata (zone form) as master-file lines. */
static int dump_records(FILE *out, const uint8_t *owner, uint16_t type,
			uint32_t ttl, const uint8_t *rdata, uint16_t count)
{
	uint8_t wire[DNAME_MAX + 10 + 65535];
	size_t olen = dname_length(owner);
	const uint8_t *rd = rdata;
	for (uint16_t i = 0; i < count; i++) {
		size_t rdlen = (size_t)rd[0] << 8 | rd[1], n = olen, pos = 0;
		memcpy(wire, owner, olen);
		wire[n++] = (uint8_t)(type >> 8);
		wire[n++] = (uint8_t)type;
		wire[n++] = 0;
		wire[n++] = CLASS_IN;
		wire[n++] = (uint8_t)(ttl >> 24);
		wire[n++] = (uint8_t)(ttl >> 16);
		wire[n++] = (uint8_t)(ttl >> 8);
		wire[n++] = (uint8_t)ttl;
		memcpy(wire + n, rd, 2 + rdlen);
		n += 2 + rdlen;
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, wire, n, &pos, LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK)
			return -1;
		ldns_rr_print(out, rr);
		ldns_rr_free(rr);
		rd += 2 + rdlen;
	}
	return 0;
}

static int dump_set(FILE *out, const uint8_t *owner,
		    const struct zone_rrset *rs, uint32_t ttl)
{
	return dump_records(out, owner, rs->type, ttl, rs->rdata, rs->count);
}

/* The region's A or AAAA RRset at a regional name, and its RRSIGs. */
static int dump_vips(FILE *out, const struct dnssec_zone *dz,
		     const struct zone_node *n, const struct ip_addr *vips,
		     size_t count, uint16_t type, const struct zone_rrset *sig)
{
	uint8_t rd[VIP_RDATA_MAX];
	if (count == 0)
		return 0;
	if (vip_rdata(vips, count, type, rd) == 0 ||
	    dump_records(out, n->name, type, dz->zone->regional_ttl, rd,
			 (uint16_t)count) < 0)
		return -1;
	return dump_set(out, n->name, sig, dz->zone->regional_ttl);
}

static int dump_node(FILE *out, const struct dnssec_zone *dz,
		     const struct config *cfg, uint32_t idx, int region)
{
	const struct zone_node *n = &dz->zone->nodes[idx];
	const struct dnssec_node *dn = &dz->nodes[idx];
	bool regional = n->flags & ZONE_NODE_REGIONAL;
	for (uint16_t r = 0; r < n->rrset_count; r++) {
		const struct zone_rrset *rs = &n->rrsets[r];
		if (regional && (rs->type == TYPE_A || rs->type == TYPE_AAAA))
			continue; // superseded by the region's VIPs
		if ((n->flags & ZONE_NODE_APEX) && rs->type == TYPE_SOA)
			continue; // written first
		if (dump_set(out, n->name, rs, rs->ttl) < 0 ||
		    (dn->sigs != NULL &&
		     dump_set(out, n->name, &dn->sigs[r], rs->ttl) < 0))
			return -1;
	}
	const struct zone_rrset *nsec = &dn->nsec, *sig = &dn->nsec_sig;
	if (regional && dn->variants != NULL) {
		// the name's service in that region, as sign_regional signed it
		struct config_vipset vips;
		config_vips(cfg, n->service, region, &vips);
		const struct dnssec_variant *v = &dn->variants[region];
		if (dump_vips(out, dz, n, vips.v4, vips.v4_count, TYPE_A,
			      &v->a_sig) < 0 ||
		    dump_vips(out, dz, n, vips.v6, vips.v6_count, TYPE_AAAA,
			      &v->aaaa_sig) < 0)
			return -1;
		nsec = &v->nsec;
		sig = &v->nsec_sig;
	}
	if (nsec->count == 0)
		return 0;
	const uint8_t *owner = dz->nsec3 ? dz->n3[dn->n3].owner : n->name;
	if (dump_set(out, owner, nsec, nsec->ttl) < 0 ||
	    dump_set(out, owner, sig, nsec->ttl) < 0)
		return -1;
	return 0;
}

int dnssec_dump_zone(const struct dnssec_set *ds, const struct config *cfg,
		     const struct zone *z, int region, FILE *out)
{
	const struct dnssec_zone *dz = dnssec_set_zone(ds, z);
	if (dz == NULL || region < 0 || (size_t)region >= cfg->region_count)
		return -1;
	// the SOA opens the file, then the apex
	const struct zone_rrset *soa = zone_node_rrset(z->apex, TYPE_SOA);
	const struct dnssec_node *apex = dnode(dz, z->apex);
	if (soa == NULL || dump_set(out, z->origin, soa, soa->ttl) < 0 ||
	    (apex->sigs != NULL &&
	     dump_set(out, z->origin, &apex->sigs[soa - z->apex->rrsets],
		      soa->ttl) < 0))
		return -1;
	if (dump_node(out, dz, cfg, (uint32_t)(z->apex - z->nodes), region) < 0)
		return -1;
	for (size_t i = 0; i < z->node_count; i++)
		if (&z->nodes[i] != z->apex &&
		    dump_node(out, dz, cfg, (uint32_t)i, region) < 0)
			return -1;
	return ferror(out) ? -1 : 0;
}

/* ---- --lookup ---------------------------------------------------------- */

static void describe_bitmap(const struct zone_rrset *nsec, char *out,
			    size_t len)
{
	const uint8_t *rd = nsec->rdata + 2;
	size_t rdlen = (size_t)nsec->rdata[0] << 8 | nsec->rdata[1];
	size_t pos, used = 0;
	if (nsec->type == TYPE_NSEC3) // hash, flags, iterations, salt, next
		pos = 5u + rd[4] + 1u + rd[5u + rd[4]];
	else
		pos = dname_length(rd);
	out[0] = '\0';
	while (pos + 2 <= rdlen) {
		unsigned window = rd[pos], blen = rd[pos + 1];
		for (unsigned i = 0; i < blen * 8 && pos + 2 + i / 8 < rdlen;
		     i++) {
			if (!(rd[pos + 2 + i / 8] & (0x80 >> (i % 8))))
				continue;
			char tn[16];
			int k = snprintf(
				out + used, len - used, "%s%s", used ? " " : "",
				zone_read_type_name((uint16_t)(window << 8 | i),
						    tn));
			if (k < 0 || (size_t)k >= len - used)
				return;
			used += (size_t)k;
		}
		pos += 2 + blen;
	}
}

/* Key tags of the RRSIGs in sig (offset 16 of each RRSIG rdata). */
static void describe_tags(const struct zone_rrset *sig, char *out, size_t len)
{
	const uint8_t *rd = sig->rdata;
	size_t used = 0;
	out[0] = '\0';
	for (uint16_t i = 0; i < sig->count; i++) {
		int k = snprintf(out + used, len - used, "%s%u", i ? "," : "",
				 (unsigned)(rd[2 + 16] << 8 | rd[2 + 17]));
		if (k < 0 || (size_t)k >= len - used)
			return;
		used += (size_t)k;
		rd += 2 + ((size_t)rd[0] << 8 | rd[1]);
	}
}

void dnssec_describe_variant(const struct dnssec_zone *dz,
			     const struct zone_node *node, int region,
			     char *out, size_t len)
{
	const struct dnssec_node *dn = dnode(dz, node);
	if (dn->variants == NULL || region < 0) {
		snprintf(out, len, "not a signed regional name");
		return;
	}
	const struct dnssec_variant *v = &dn->variants[region];
	char a[64] = "", aaaa[64] = "", bits[256];
	if (v->a_sig.count > 0)
		describe_tags(&v->a_sig, a, sizeof(a));
	if (v->aaaa_sig.count > 0)
		describe_tags(&v->aaaa_sig, aaaa, sizeof(aaaa));
	describe_bitmap(&v->nsec, bits, sizeof(bits));
	snprintf(out, len, "A %s%s, AAAA %s%s, %s bitmap '%s'",
		 a[0] ? "signed by key " : "NODATA", a,
		 aaaa[0] ? "signed by key " : "NODATA", aaaa,
		 dz->nsec3 ? "NSEC3" : "NSEC", bits);
}
