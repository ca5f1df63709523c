/*
 * banned.h - functions this project does not call (docs/style.md H43).
 *
 * Included by proto/common.h after the system headers, so a use of any of
 * these is a compile error naming the rule.  Use snprintf, and strtol/strtod
 * through parse_long()/parse_double() in proto/common.h.
 */
#ifndef CARBS_PROTO_BANNED_H
#define CARBS_PROTO_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_see_proto_banned_h

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atof
#define atof(x) BANNED(atof)
#undef rand
#define rand() BANNED(rand)
#undef srand
#define srand(x) BANNED(srand)

#endif
