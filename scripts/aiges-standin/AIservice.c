/*
 * Stand-in for the AIGES images' /home/aiges/AIservice, the Go loader
 * (xfyun/aiges = iflytek/aiges). It keeps only how the loader reaches
 * Python, so that images built on a stand-in base fail where the real
 * ones would:
 *
 *   AIGES_PLUGIN_MODE=c (the default, env/env.go)
 *       dlopen("libwrapper.so", RTLD_NOW) by bare name, so it is found
 *       through LD_LIBRARY_PATH (/home/aiges/library), as cLibOpen in
 *       widget/adapter_c_linux.go does; then call into it. The real loader
 *       resolves wrapperInit & co.; the stand-in's library exports one
 *       function, wrapper_serve, that embeds CPython and calls
 *       wrapper.Wrapper().wrapperInit({}).
 *   AIGES_PLUGIN_MODE=python
 *       run `bash -c "<pythonPluginCmd>"` (widget/adapter_python.go), whose
 *       default is "/usr/bin/env python -m aiges.serve" (utils/default.cfg):
 *       the first `python` on PATH, with the environment inherited. The real
 *       loader keeps it as a gRPC plugin child; the stand-in just execs it.
 *
 * The real flags (-m=0 -c=aiges.toml -s=svcName -u=... -p=AIaaS -g=dx, the
 * demos' start command) are accepted and ignored: there is no service to
 * register and no config to read.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYTHON_PLUGIN_CMD "/usr/bin/env python -m aiges.serve"

static int serve_c(void)
{
    void *lib = dlopen("libwrapper.so", RTLD_NOW);
    if (lib == NULL) {
        fprintf(stderr, "aiges stand-in: c mode: dlopen libwrapper.so: %s\n", dlerror());
        return 1;
    }
    /* ISO C has no cast from void * to a function pointer; copy the bits. */
    void *sym = dlsym(lib, "wrapper_serve");
    if (sym == NULL) {
        fprintf(stderr, "aiges stand-in: c mode: dlsym wrapper_serve: %s\n", dlerror());
        return 1;
    }
    int (*serve)(void);
    memcpy(&serve, &sym, sizeof serve);
    return serve();
}

static int serve_python(void)
{
    /* exec rather than fork: the child's exit status becomes the loader's. */
    execlp("bash", "bash", "-c", PYTHON_PLUGIN_CMD, (char *)NULL);
    perror("aiges stand-in: python mode: exec bash");
    return 127;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv; /* the real flags carry nothing the stand-in needs */

    const char *mode = getenv("AIGES_PLUGIN_MODE");
    if (mode == NULL || *mode == '\0')
        mode = "c";
    if (strcmp(mode, "c") == 0)
        return serve_c();
    if (strcmp(mode, "python") == 0)
        return serve_python();
    fprintf(stderr, "aiges stand-in: unknown AIGES_PLUGIN_MODE '%s' (want c or python)\n", mode);
    return 2;
}
