/*
 * bonjourpeer: a headless XEP-0174 peer for Hearth's link-local tests,
 * libpurple's Bonjour protocol (prpl-bonjour) on the GLib main loop.
 *
 * Usage: bonjourpeer USERDIR ACCOUNT PEER
 *
 * It signs ACCOUNT on, and when PEER appears on the LAN says "hello hearth".
 * A message with "hello bob" makes it close the conversation (libpurple then
 * ends the stream); a message with "dialed by hearth" is answered with
 * "thanks", and it exits 0 a moment later. Everything it sees is printed on
 * standard error, one line each, for the test to read.
 */
#include <glib.h>
#include <purple.h>
#include <stdio.h>
#include <string.h>

static PurpleAccount *account;
static const char *peer;
static int handle;

#define READ_COND (G_IO_IN | G_IO_HUP | G_IO_ERR)
#define WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct {
	PurpleInputFunction func;
	gpointer data;
} watch;

static gboolean watch_fired(GIOChannel *ch, GIOCondition cond, gpointer p)
{
	watch *w = p;
	PurpleInputCondition pc = 0;
	if (cond & READ_COND)
		pc |= PURPLE_INPUT_READ;
	if (cond & WRITE_COND)
		pc |= PURPLE_INPUT_WRITE;
	w->func(w->data, g_io_channel_unix_get_fd(ch), pc);
	return TRUE;
}

static guint input_add(int fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer data)
{
	watch *w = g_new0(watch, 1);
	GIOCondition gc = 0;
	GIOChannel *ch;
	guint id;
	w->func = func;
	w->data = data;
	if (cond & PURPLE_INPUT_READ)
		gc |= READ_COND;
	if (cond & PURPLE_INPUT_WRITE)
		gc |= WRITE_COND;
	ch = g_io_channel_unix_new(fd);
	id = g_io_add_watch_full(ch, G_PRIORITY_DEFAULT, gc, watch_fired, w, g_free);
	g_io_channel_unref(ch);
	return id;
}

static PurpleEventLoopUiOps loop_ops = {
	g_timeout_add, g_source_remove, input_add, g_source_remove, NULL, g_timeout_add_seconds,
	NULL, NULL, NULL,
};

static PurpleCoreUiOps core_ops;

static void say(const char *who, const char *text)
{
	PurpleConversation *conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, who, account);
	if (conv == NULL)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, account, who);
	fprintf(stderr, "sending to %s: %s\n", who, text);
	purple_conv_im_send(PURPLE_CONV_IM(conv), text);
}

static void signed_on(PurpleConnection *gc, gpointer data)
{
	fprintf(stderr, "signed on as %s\n", purple_account_get_username(account));
}

static void buddy_signed_on(PurpleBuddy *b, gpointer data)
{
	const char *name = purple_buddy_get_name(b);
	fprintf(stderr, "buddy signed on: %s\n", name);
	if (strcmp(name, peer) == 0)
		say(peer, "hello hearth");
}

static gboolean close_conversation(gpointer data)
{
	PurpleConversation *conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, peer, account);
	if (conv != NULL) {
		fprintf(stderr, "closing the conversation with %s\n", peer);
		purple_conversation_destroy(conv);
	}
	return FALSE;
}

static gboolean reply_thanks(gpointer data)
{
	say(peer, "thanks");
	return FALSE;
}

static gboolean quit(gpointer loop)
{
	g_main_loop_quit(loop);
	return FALSE;
}

static GMainLoop *loop;

static void received_im(PurpleAccount *acct, char *sender, char *message, PurpleConversation *conv,
                        PurpleMessageFlags flags, gpointer data)
{
	fprintf(stderr, "received from %s: %s\n", sender, message);
	if (strstr(message, "hello bob") != NULL)
		g_timeout_add(100, close_conversation, NULL);
	if (strstr(message, "dialed by hearth") != NULL) {
		g_timeout_add(100, reply_thanks, NULL);
		g_timeout_add(1500, quit, loop);
	}
}

int main(int argc, char **argv)
{
	PurpleSavedStatus *status;
	if (argc != 4) {
		fprintf(stderr, "usage: bonjourpeer USERDIR ACCOUNT PEER\n");
		return 2;
	}
	peer = argv[3];
	loop = g_main_loop_new(NULL, FALSE);
	purple_util_set_user_dir(argv[1]);
	purple_debug_set_enabled(g_getenv("PURPLE_DEBUG") != NULL);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&loop_ops);
	if (!purple_core_init("hearth-test")) {
		fprintf(stderr, "libpurple did not start\n");
		return 1;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();

	purple_signal_connect(purple_connections_get_handle(), "signed-on", &handle, PURPLE_CALLBACK(signed_on), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-on", &handle, PURPLE_CALLBACK(buddy_signed_on), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg", &handle, PURPLE_CALLBACK(received_im), NULL);

	account = purple_account_new(argv[2], "prpl-bonjour");
	purple_account_set_string(account, "first", "Bob");
	purple_account_set_string(account, "last", "Device");
	purple_accounts_add(account);
	purple_account_set_enabled(account, "hearth-test", TRUE);
	status = purple_savedstatus_new(NULL, PURPLE_STATUS_AVAILABLE);
	purple_savedstatus_activate(status);

	g_main_loop_run(loop);
	fprintf(stderr, "done\n");
	return 0;
}
