/*
 * Stand-in for the AIGES images' /home/aiges/library/libwrapper.so.
 *
 * The real one is iflytek/aiges_c_python_wrapper: C++ that embeds CPython
 * with pybind11 and is linked, when the image is built, against
 * `python3-config --embed` of the python on PATH. What matters to images
 * built on top of a base is how that interpreter finds itself, so this
 * file keeps exactly those steps and nothing else:
 *
 *   - Py_Initialize() with no program name and no home (for the images'
 *     Python 3.9, pybind11's scoped_interpreter calls Py_InitializeEx and
 *     sets neither), so CPython derives its prefix from
 *     the first `python3` on PATH, or from PYTHONHOME. A PATH whose first
 *     python3 has another minor version (or no stdlib) makes the start fail;
 *     the stand-in must fail as loudly as the real loader.
 *   - libpython3.so is dlopen()ed RTLD_GLOBAL before importing anything,
 *     as pyWrapper.cpp does: the loader dlopen()s this library RTLD_LOCAL,
 *     and stdlib extension modules (lib-dynload) are not linked against
 *     libpython, so without this they fail with "undefined symbol: Py...".
 *   - module `wrapper`, class `Wrapper`, method wrapperInit(config): the
 *     names pyWrapper.cpp imports, from the working directory or PYTHONPATH.
 *
 * Built by scripts/setup.sh with the host's gcc against the host CPython
 * (-lpython3.11, no rpath: in the image ldconfig finds /usr/local/lib).
 */
#include <Python.h>
#include <dlfcn.h>
#include <stdio.h>

int wrapper_serve(void);

/* Prints the pending Python exception, if any, and returns 1. */
static int fail(const char *what)
{
    fprintf(stderr, "aiges stand-in: c mode: %s failed\n", what);
    if (PyErr_Occurred())
        PyErr_Print();
    return 1;
}

/* Starts the interpreter, imports wrapper.Wrapper and calls wrapperInit({}).
 * Returns 0 on success, nonzero (after printing why) otherwise. Exported
 * explicitly: the loader stand-in finds it with dlsym. */
__attribute__((visibility("default"))) int wrapper_serve(void)
{
    /* The real wrapper ignores a failure here; the stand-in says so, since
     * the imports below would then fail with a less obvious message. */
    if (dlopen("libpython3.so", RTLD_NOW | RTLD_GLOBAL) == NULL)
        fprintf(stderr, "aiges stand-in: c mode: dlopen libpython3.so: %s\n", dlerror());

    /* No Py_SetProgramName/PYTHONHOME handling of our own: if the prefix
     * found from PATH (or PYTHONHOME) has no stdlib of this version, CPython
     * prints its path configuration and "Fatal Python error: init_fs_encoding"
     * and exits the process with status 1; the real loader dies the same way. */
    Py_Initialize();

    int rc = 1;
    PyObject *mod = NULL, *cls = NULL, *obj = NULL, *cfg = NULL, *ret = NULL;
    PyObject *line = NULL;

    /* An embedded interpreter has no script directory on sys.path. For
     * Python < 3.11 pybind11 then calls PySys_SetArgvEx with an empty
     * argv[0], which puts '' (the working directory, /home/aiges, where
     * the demos ADD wrapper.py) first. */
    if (PyRun_SimpleString("import sys; sys.path.insert(0, '')") != 0) {
        fprintf(stderr, "aiges stand-in: c mode: setting sys.path failed\n");
        goto out;
    }
    if ((mod = PyImport_ImportModule("wrapper")) == NULL) {
        rc = fail("import wrapper");
        goto out;
    }
    if ((cls = PyObject_GetAttrString(mod, "Wrapper")) == NULL) {
        rc = fail("wrapper.Wrapper");
        goto out;
    }
    if ((obj = PyObject_CallNoArgs(cls)) == NULL) {
        rc = fail("Wrapper()");
        goto out;
    }
    /* The loader passes its config as a dict; the stand-in has none. */
    if ((cfg = PyDict_New()) == NULL ||
        (ret = PyObject_CallMethod(obj, "wrapperInit", "(O)", cfg)) == NULL) {
        rc = fail("Wrapper().wrapperInit({})");
        goto out;
    }
    /* sys.prefix shows which installation the interpreter found. */
    if ((line = PyUnicode_FromFormat("aiges stand-in: c mode: python %s at %S: wrapperInit returned %R",
                                     Py_GetVersion(), PySys_GetObject("prefix"), ret)) == NULL) {
        rc = fail("formatting the result");
        goto out;
    }
    printf("%s\n", PyUnicode_AsUTF8(line));
    fflush(stdout);
    rc = 0;
out:
    Py_XDECREF(line);
    Py_XDECREF(ret);
    Py_XDECREF(cfg);
    Py_XDECREF(obj);
    Py_XDECREF(cls);
    Py_XDECREF(mod);
    if (Py_FinalizeEx() < 0 && rc == 0)
        rc = 120;
    return rc;
}
