# The demo provider's phone pages, in English. Every other language has the same messages; a
# test compares them. The server formats every message with all its values, so any count
# ({ $count }, { $minutes }) may choose a plural form. tvsignin is the product's name.
# { $at } is a time of day such as 14:03:22 UTC; { $code } a code such as BCDF-GHJK.

page-title = { $page } - Demo sign-in
demo-badge = Demo
page-header = tvsignin sign-in
page-footer = This is a demo provider built into tvsignin, not for production: its built-in users' passwords are shown on this page.
button-continue = Continue
button-start-again = Start again

# Step 1: the code.
code-title = Enter the code
code-heading = Sign in on the TV
code-label = Code
code-hint-empty = Type the code shown on the TV.
code-hint-check = Check that this is the code shown on the TV.

# Step 2: who signs in, and whether to allow it.
consent-title = Sign in on the TV?
device-name = tvsignin TV
consent-device = { $device } is asking to sign in.
consent-code = Code { $code }
consent-issued-now = Issued just now (at { $at }).
consent-issued-seconds = { $count ->
    [one] Issued a second ago (at { $at }).
   *[other] Issued { $count } seconds ago (at { $at }).
}
consent-issued-minutes = { $count ->
    [one] Issued a minute ago (at { $at }).
   *[other] Issued { $count } minutes ago (at { $at }).
}
consent-expires-now = The code expires in a moment.
consent-expires-seconds = { $count ->
    [one] The code expires in a second.
   *[other] The code expires in { $count } seconds.
}
consent-expires-minutes = { $count ->
    [one] The code expires in a minute.
   *[other] The code expires in { $count } minutes.
}
consent-warning = Only continue if you started this on the TV in front of you.
label-user = Sign in as
label-password = Password
button-allow = Allow
button-deny = Deny
accounts-caption = Demo accounts:
accounts-name = Name
accounts-user = User
accounts-password = Password
password-not-shown = not shown

# The end.
result-signed-in-title = Signed in
result-signed-in = You're signed in on the TV. You can close this page.
result-declined-title = Sign-in declined
result-declined = Sign-in declined. The TV was not signed in. You can close this page.
result-who = Signed in as { $name }.

# What went wrong, and what to do.
error-unavailable-title = Try again
error-unavailable = The demo sign-in is not available right now.
error-too-many-tries-title = Too many tries
error-too-many-tries = Too many tries from this network address. Wait a minute, then try again.
error-cookies-title = Cookies needed
error-cookies = This page needs cookies to keep your sign-in safe. Allow cookies for this site, then start again.
error-expired-form-title = Start again
error-expired-form = This form has expired or did not come from this page. Start again.
error-unknown-step = Something went wrong. Start again.
error-code-empty = Type the code shown on the TV.
error-code-wrong = That code isn't right. Check the code on the TV and try again.
error-code-expired = That code has expired. Start again on the TV to get a new one.
error-code-used = That code has already been used. Start again on the TV if you still need to sign in.
error-too-many-wrong = { $minutes ->
    [one] Too many wrong codes. Wait a minute, then try again.
   *[other] Too many wrong codes. Wait { $minutes } minutes, then try again.
}
error-code-not-usable-title = Code not usable
error-password-empty-public = Type the password (the demo passwords are listed below).
error-password-empty = Type the password.
error-password-wrong-public = Wrong password. The demo passwords are listed below.
error-password-wrong = Wrong password.
error-pick-user = Pick one of the demo users.
error-choose = Choose Allow or Deny.
