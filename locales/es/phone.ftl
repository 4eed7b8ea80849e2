# Las páginas del teléfono del proveedor de demostración, en español.

page-title = { $page } - Inicio de sesión de demostración
demo-badge = Demostración
page-header = Inicio de sesión de tvsignin
page-footer = Este es un proveedor de demostración integrado en tvsignin, no apto para producción: las contraseñas de sus usuarios integrados se muestran en esta página.
button-continue = Continuar
button-start-again = Empezar de nuevo

# Paso 1: el código.
code-title = Introduce el código
code-heading = Iniciar sesión en la televisión
code-label = Código
code-hint-empty = Escribe el código que aparece en la televisión.
code-hint-check = Comprueba que este es el código que aparece en la televisión.

# Paso 2: quién inicia sesión y si se permite.
consent-title = ¿Iniciar sesión en la televisión?
device-name = La televisión tvsignin
consent-device = { $device } quiere iniciar sesión.
consent-code = Código { $code }
consent-issued-now = Emitido ahora mismo (a las { $at }).
consent-issued-seconds = { $count ->
    [one] Emitido hace un segundo (a las { $at }).
   *[other] Emitido hace { $count } segundos (a las { $at }).
}
consent-issued-minutes = { $count ->
    [one] Emitido hace un minuto (a las { $at }).
   *[other] Emitido hace { $count } minutos (a las { $at }).
}
consent-expires-now = El código caduca en un momento.
consent-expires-seconds = { $count ->
    [one] El código caduca en un segundo.
   *[other] El código caduca en { $count } segundos.
}
consent-expires-minutes = { $count ->
    [one] El código caduca en un minuto.
   *[other] El código caduca en { $count } minutos.
}
consent-warning = Continúa solo si has empezado esto en la televisión que tienes delante.
label-user = Iniciar sesión como
label-password = Contraseña
button-allow = Permitir
button-deny = Denegar
accounts-caption = Cuentas de demostración:
accounts-name = Nombre
accounts-user = Usuario
accounts-password = Contraseña
password-not-shown = no se muestra

# El final.
result-signed-in-title = Sesión iniciada
result-signed-in = Has iniciado sesión en la televisión. Ya puedes cerrar esta página.
result-declined-title = Inicio de sesión rechazado
result-declined = Inicio de sesión rechazado. La televisión no ha iniciado sesión. Ya puedes cerrar esta página.
result-who = Sesión iniciada como { $name }.

# Qué ha fallado y qué hacer.
error-unavailable-title = Vuelve a intentarlo
error-unavailable = El inicio de sesión de demostración no está disponible en este momento.
error-too-many-tries-title = Demasiados intentos
error-too-many-tries = Demasiados intentos desde esta dirección de red. Espera un minuto y vuelve a intentarlo.
error-cookies-title = Se necesitan cookies
error-cookies = Esta página necesita cookies para proteger tu inicio de sesión. Permite las cookies de este sitio y empieza de nuevo.
error-expired-form-title = Empieza de nuevo
error-expired-form = Este formulario ha caducado o no procede de esta página. Empieza de nuevo.
error-unknown-step = Algo ha fallado. Empieza de nuevo.
error-code-empty = Escribe el código que aparece en la televisión.
error-code-wrong = Ese código no es correcto. Comprueba el código de la televisión y vuelve a intentarlo.
error-code-expired = Ese código ha caducado. Empieza de nuevo en la televisión para obtener uno nuevo.
error-code-used = Ese código ya se ha usado. Empieza de nuevo en la televisión si todavía necesitas iniciar sesión.
error-too-many-wrong = { $minutes ->
    [one] Demasiados códigos incorrectos. Espera un minuto y vuelve a intentarlo.
   *[other] Demasiados códigos incorrectos. Espera { $minutes } minutos y vuelve a intentarlo.
}
error-code-not-usable-title = Código no válido
error-password-empty-public = Escribe la contraseña (las contraseñas de demostración aparecen abajo).
error-password-empty = Escribe la contraseña.
error-password-wrong-public = Contraseña incorrecta. Las contraseñas de demostración aparecen abajo.
error-password-wrong = Contraseña incorrecta.
error-pick-user = Elige uno de los usuarios de demostración.
error-choose = Elige «Permitir» o «Denegar».
