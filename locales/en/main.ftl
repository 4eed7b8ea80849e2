# The TV page, in English. Every other language has the same messages; a test compares them.
# { $time } is a countdown such as 4:59; { $seconds } a whole number of seconds.
# The TV fills in { $time }, { $name }, { $spoken }, { $org } and { $provider } as plain text,
# so only { $seconds } in continue-note may choose a plural form (a test checks this).

page-title = Sign in
page-title-org = Sign in · { $org }
app-name = tvsignin
demo-badge = Demo

home-title = Sign in on this TV
home-lead = Use your phone to sign in with your { $provider } account.
button-sign-in = Sign in
button-new-code = New code
button-cancel = Cancel
button-sign-out = Sign out

step-scan = On your phone, scan the QR code, or go to
step-enter = and enter this code:
user-code-label = Code: { $spoken }
qr-label = QR code of the sign-in link
code-expires = Code expires in { $time }
phishing-warning = This signs this TV in to your account. Only continue if you are in front of this TV.
phishing-warning-org = This signs this TV in to your { $org } account. Only continue if you are in front of this TV.

outcome-starting = Getting a code…
outcome-denied = Sign-in was declined on the phone.
outcome-expired = This code expired. Get a new one to try again.
outcome-throttled = Too many new codes in a short time. Try again in a moment.
outcome-unreachable = Can't reach the sign-in service, retrying…

status-idle = Press Sign in to start.
status-starting = Getting a code…
status-waiting = Waiting for you to sign in on your phone…
status-denied = Sign-in was declined.
status-expired = This code expired.
status-unreachable = Can't reach the sign-in service, retrying…
status-throttled = Too many new codes. Try again in { $time }.
status-signed-in = Signed in.

welcome = Welcome, { $name }
claims-caption = Your profile
idle-warning = Signing out in { $time }. Press any key to stay signed in.

# The signed-in screen with an app to go to (APP_URL).
button-continue = Continue
continue-note = { $seconds ->
    [0] Taking you to the app…
    [one] Taking you to the app in a second…
   *[other] Taking you to the app in { $seconds } seconds…
}

# The page an app links to so the TV can be signed out.
sign-out-page-title = Sign out
sign-out-question = Sign out of this TV?
signed-in-as = Signed in as { $name }
button-back-to-app = Back to the app
not-signed-in = This TV is not signed in

# What the TV page says when its first load fails (it has no other words yet).
error-no-session = This screen needs cookies to sign in. Reload the page.
error-internal = Something went wrong. Try again in a moment.
