/*
 * Where mailcase keeps things by default, the XDG way: an environment
 * variable of our own, else the XDG base directory, else its default
 * below $HOME.
 */
#ifndef XDG_H
#define XDG_H

/*
 * $own if set; else $xdgvar/mailcase<leaf> when $xdgvar is absolute;
 * else $HOME/<homedir>/mailcase<leaf>.  Malloc'ed; NULL when none
 * applies or out of memory.  Example: xdg_path("MAILCASE_CONFIG",
 * "XDG_CONFIG_HOME", ".config", "/config").
 */
char	*xdg_path(const char *own, const char *xdgvar, const char *homedir,
	    const char *leaf);

#endif
