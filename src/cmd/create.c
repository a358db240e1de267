/* being written */
typedef int krunc_placeholder_create;
