/*
 * src/country.c — the built-in ISO 3166-1 alpha-2 → continent table:
 * every assigned code (249) plus the special codes MaxMind and DB-IP emit
 * (EU, AP, XK), with MaxMind's (GeoNames') continent for each.
 */
#include "autoconf.h"
#include "country.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct country_entry {
	char code[3];
	uint8_t continent;
};

#define C(code, cont)                   \
	{                               \
#code, CONTINENT_##cont \
	}

/*
 * Sorted by code for bsearch. Transcontinental states follow MaxMind:
 * RU, CY → EU; TR, GE, AM, AZ, KZ → AS; EG → AF; the Caribbean and
 * Central America → NA; UM and the Pacific islands → OC; the southern
 * territories AQ, BV, GS, HM, TF → AN.
 */
static const struct country_entry country_table[] = {
	C(AD, EU), C(AE, AS), C(AF, AS), C(AG, NA), C(AI, NA), C(AL, EU),
	C(AM, AS), C(AO, AF), C(AP, AS), C(AQ, AN), C(AR, SA), C(AS, OC),
	C(AT, EU), C(AU, OC), C(AW, NA), C(AX, EU), C(AZ, AS), C(BA, EU),
	C(BB, NA), C(BD, AS), C(BE, EU), C(BF, AF), C(BG, EU), C(BH, AS),
	C(BI, AF), C(BJ, AF), C(BL, NA), C(BM, NA), C(BN, AS), C(BO, SA),
	C(BQ, NA), C(BR, SA), C(BS, NA), C(BT, AS), C(BV, AN), C(BW, AF),
	C(BY, EU), C(BZ, NA), C(CA, NA), C(CC, AS), C(CD, AF), C(CF, AF),
	C(CG, AF), C(CH, EU), C(CI, AF), C(CK, OC), C(CL, SA), C(CM, AF),
	C(CN, AS), C(CO, SA), C(CR, NA), C(CU, NA), C(CV, AF), C(CW, NA),
	C(CX, AS), C(CY, EU), C(CZ, EU), C(DE, EU), C(DJ, AF), C(DK, EU),
	C(DM, NA), C(DO, NA), C(DZ, AF), C(EC, SA), C(EE, EU), C(EG, AF),
	C(EH, AF), C(ER, AF), C(ES, EU), C(ET, AF), C(EU, EU), C(FI, EU),
	C(FJ, OC), C(FK, SA), C(FM, OC), C(FO, EU), C(FR, EU), C(GA, AF),
	C(GB, EU), C(GD, NA), C(GE, AS), C(GF, SA), C(GG, EU), C(GH, AF),
	C(GI, EU), C(GL, NA), C(GM, AF), C(GN, AF), C(GP, NA), C(GQ, AF),
	C(GR, EU), C(GS, AN), C(GT, NA), C(GU, OC), C(GW, AF), C(GY, SA),
	C(HK, AS), C(HM, AN), C(HN, NA), C(HR, EU), C(HT, NA), C(HU, EU),
	C(ID, AS), C(IE, EU), C(IL, AS), C(IM, EU), C(IN, AS), C(IO, AS),
	C(IQ, AS), C(IR, AS), C(IS, EU), C(IT, EU), C(JE, EU), C(JM, NA),
	C(JO, AS), C(JP, AS), C(KE, AF), C(KG, AS), C(KH, AS), C(KI, OC),
	C(KM, AF), C(KN, NA), C(KP, AS), C(KR, AS), C(KW, AS), C(KY, NA),
	C(KZ, AS), C(LA, AS), C(LB, AS), C(LC, NA), C(LI, EU), C(LK, AS),
	C(LR, AF), C(LS, AF), C(LT, EU), C(LU, EU), C(LV, EU), C(LY, AF),
	C(MA, AF), C(MC, EU), C(MD, EU), C(ME, EU), C(MF, NA), C(MG, AF),
	C(MH, OC), C(MK, EU), C(ML, AF), C(MM, AS), C(MN, AS), C(MO, AS),
	C(MP, OC), C(MQ, NA), C(MR, AF), C(MS, NA), C(MT, EU), C(MU, AF),
	C(MV, AS), C(MW, AF), C(MX, NA), C(MY, AS), C(MZ, AF), C(NA, AF),
	C(NC, OC), C(NE, AF), C(NF, OC), C(NG, AF), C(NI, NA), C(NL, EU),
	C(NO, EU), C(NP, AS), C(NR, OC), C(NU, OC), C(NZ, OC), C(OM, AS),
	C(PA, NA), C(PE, SA), C(PF, OC), C(PG, OC), C(PH, AS), C(PK, AS),
	C(PL, EU), C(PM, NA), C(PN, OC), C(PR, NA), C(PS, AS), C(PT, EU),
	C(PW, OC), C(PY, SA), C(QA, AS), C(RE, AF), C(RO, EU), C(RS, EU),
	C(RU, EU), C(RW, AF), C(SA, AS), C(SB, OC), C(SC, AF), C(SD, AF),
	C(SE, EU), C(SG, AS), C(SH, AF), C(SI, EU), C(SJ, EU), C(SK, EU),
	C(SL, AF), C(SM, EU), C(SN, AF), C(SO, AF), C(SR, SA), C(SS, AF),
	C(ST, AF), C(SV, NA), C(SX, NA), C(SY, AS), C(SZ, AF), C(TC, NA),
	C(TD, AF), C(TF, AN), C(TG, AF), C(TH, AS), C(TJ, AS), C(TK, OC),
	C(TL, AS), C(TM, AS), C(TN, AF), C(TO, OC), C(TR, AS), C(TT, NA),
	C(TV, OC), C(TW, AS), C(TZ, AF), C(UA, EU), C(UG, AF), C(UM, OC),
	C(US, NA), C(UY, SA), C(UZ, AS), C(VA, EU), C(VC, NA), C(VE, SA),
	C(VG, NA), C(VI, NA), C(VN, AS), C(VU, OC), C(WF, OC), C(WS, OC),
	C(XK, EU), C(YE, AS), C(YT, AF), C(ZA, AF), C(ZM, AF), C(ZW, AF),
};

#undef C

static int country_cmp(const void *key, const void *elem)
{
	const char *k = key;
	const struct country_entry *e = elem;
	return memcmp(k, e->code, 2);
}

/* NULL unless code is exactly two ASCII letters present in the table. */
static const struct country_entry *country_find(const char *code)
{
	if (code == NULL)
		return NULL;
	char key[2];
	for (int i = 0; i < 2; i++) {
		char c = code[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return NULL;
		key[i] = c;
	}
	if (code[2] != '\0')
		return NULL;
	return bsearch(key, country_table,
		       sizeof(country_table) / sizeof(country_table[0]),
		       sizeof(country_table[0]), country_cmp);
}

enum continent country_continent(const char *code)
{
	const struct country_entry *e = country_find(code);
	return e ? (enum continent)e->continent : CONTINENT_UNKNOWN;
}

bool country_is_known(const char *code)
{
	return country_find(code) != NULL;
}

static const char *const continent_codes[CONTINENT_COUNT] = {
	"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

enum continent continent_from_code(const char *code)
{
	if (code == NULL || strlen(code) != 2)
		return CONTINENT_UNKNOWN;
	for (int c = 0; c < CONTINENT_COUNT; c++)
		if (strcasecmp(code, continent_codes[c]) == 0)
			return (enum continent)c;
	return CONTINENT_UNKNOWN;
}

const char *continent_code(enum continent c)
{
	return (unsigned)c < CONTINENT_COUNT ? continent_codes[c] : "--";
}
