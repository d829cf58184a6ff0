/* stub: replaced by the server */
int main(void) { return 1; }
