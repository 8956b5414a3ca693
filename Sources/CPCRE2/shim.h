#ifndef CPCRE2_SHIM_H
#define CPCRE2_SHIM_H

// pcre2.h is generic over the code-unit width and refuses to compile without this. The project only
// matches UTF-8, so the 8-bit library is the one linked. The generic names (`pcre2_compile`, …) are
// macros that Swift cannot see; Swift calls the `_8`-suffixed symbols they expand to.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

// PCRE2_UNSET (~(PCRE2_SIZE)0, an unset capture group) is a cast expression that Swift does not
// import; PCRE2Regex.swift spells it as the all-ones bit pattern.

#endif
