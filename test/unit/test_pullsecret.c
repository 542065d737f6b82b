/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/pullsecret.h"
#include "dockhand/base64.h"
#include "t.h"

/* The payload for p, or NULL (the error printed). Caller frees. */
static char *payload(const struct dh_pullsecret *p)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(DH_PULLSECRET_MAX);
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_pullsecret_dockerconfigjson(p, &out, &err) < 0) {
        printf("# %s\n", err->msg);
        return NULL;
    }
    return dh_buf_steal(&out, NULL);
}

/* Expected bytes were produced by kubectl v1.32.4:
   kubectl create secret docker-registry n --docker-server=S --docker-username=U
   --docker-password=P [--docker-email=E] --dry-run=client -o json, data decoded. */
static void test_payload_matches_kubectl(void)
{
    struct dh_pullsecret p = {0};
    _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    dh_pullsecret_add(&p, "https://r.example.com:5000/v2/", "u:1", "a&b<c>\"/\xc3\xa9", "e@x", 0);
    a = payload(&p);
    T_EQ_STR(a, "{\"auths\":{\"https://r.example.com:5000/v2/\":{\"username\":\"u:1\","
                "\"password\":\"a\\u0026b\\u003cc\\u003e\\\"/\xc3\xa9\",\"email\":\"e@x\","
                "\"auth\":\"dToxOmEmYjxjPiIvw6k=\"}}}");
    dh_pullsecret_release(&p);

    dh_pullsecret_add(&p, "https://r.example.com:5000/v2/", "u:1", "p:w\\x", "e@x", 0);
    b = payload(&p);
    T_EQ_STR(b, "{\"auths\":{\"https://r.example.com:5000/v2/\":{\"username\":\"u:1\","
                "\"password\":\"p:w\\\\x\",\"email\":\"e@x\",\"auth\":\"dToxOnA6d1x4\"}}}");
    dh_pullsecret_release(&p);

    dh_pullsecret_add(&p, "https://r.example.com:5000/v2/", "u:1", "tab\there\x01", "e@x", 0);
    c = payload(&p);
    T_EQ_STR(c, "{\"auths\":{\"https://r.example.com:5000/v2/\":{\"username\":\"u:1\","
                "\"password\":\"tab\\there\\u0001\",\"email\":\"e@x\","
                "\"auth\":\"dToxOnRhYgloZXJlAQ==\"}}}");
    dh_pullsecret_release(&p);

    /* No email: the key is omitted (omitempty), as in the reference notes. */
    dh_pullsecret_add(&p, "S", "U", "P", NULL, 0);
    d = payload(&p);
    T_EQ_STR(d, "{\"auths\":{\"S\":{\"username\":\"U\",\"password\":\"P\",\"auth\":\"VTpQ\"}}}");
    dh_pullsecret_release(&p);
}

static void test_payload_order_and_replace(void)
{
    struct dh_pullsecret p = {0};
    _cleanup_free_ char *a = NULL;

    /* Go sorts map keys by bytes; a repeated registry replaces the earlier entry. */
    dh_pullsecret_add(&p, "z.example", "u", "1", NULL, 2000);
    dh_pullsecret_add(&p, "A.example", "u", "2", "", 0);
    dh_pullsecret_add(&p, "z.example", "v", "3", NULL, 1000);
    dh_pullsecret_add(&p, "\xc3\xa9.example", "w", "4", NULL, 1500);
    T_EQ_INT(p.n_entries, 3);
    T_EQ_INT(p.expires_at, 1000);
    a = payload(&p);
    T_EQ_STR(a, "{\"auths\":{\"A.example\":{\"username\":\"u\",\"password\":\"2\","
                "\"auth\":\"dToy\"},\"z.example\":{\"username\":\"v\",\"password\":\"3\","
                "\"auth\":\"djoz\"},\"\xc3\xa9.example\":{\"username\":\"w\",\"password\":\"4\","
                "\"auth\":\"dzo0\"}}}");
    dh_pullsecret_release(&p);
    T_EQ_INT(p.n_entries, 0);
    T_ASSERT(p.entries == NULL);
}

int main(void)
{
    dh_json_use_wiping_alloc();
    T_RUN(test_payload_matches_kubectl);
    T_RUN(test_payload_order_and_replace);
    return t_done();
}
