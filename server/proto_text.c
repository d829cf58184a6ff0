/* stub: replaced by the parser implementation */
#include "proto_text.h"
const char *text_cmd_name(text_cmd_e cmd) { (void)cmd; return "stub"; }
