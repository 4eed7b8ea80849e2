# テレビのページ（日本語）。

page-title = サインイン
page-title-org = サインイン · { $org }
app-name = tvsignin
demo-badge = デモ

home-title = このテレビでサインイン
home-lead = スマートフォンで { $provider } アカウントにサインインしてください。
button-sign-in = サインイン
button-new-code = 新しいコード
button-cancel = キャンセル
button-sign-out = サインアウト

step-scan = スマートフォンで QR コードを読み取るか、次の URL を開いて
step-enter = このコードを入力してください：
user-code-label = コード：{ $spoken }
qr-label = サインイン用リンクの QR コード
code-expires = コードの有効期限まで { $time }
phishing-warning = この操作で、このテレビがあなたのアカウントにサインインします。このテレビの前にいる場合のみ続けてください。
phishing-warning-org = この操作で、このテレビがあなたの { $org } アカウントにサインインします。このテレビの前にいる場合のみ続けてください。

outcome-starting = コードを取得しています…
outcome-denied = スマートフォンでサインインが拒否されました。
outcome-expired = このコードは期限切れです。新しいコードを取得してやり直してください。
outcome-throttled = 短時間に新しいコードが多すぎます。しばらくしてからやり直してください。
outcome-unreachable = サインインサービスに接続できません。再試行しています…

status-idle = 「サインイン」を押して始めてください。
status-starting = コードを取得しています…
status-waiting = スマートフォンでのサインインを待っています…
status-denied = サインインが拒否されました。
status-expired = このコードは期限切れです。
status-unreachable = サインインサービスに接続できません。再試行しています…
status-throttled = 新しいコードが多すぎます。{ $time } 後にやり直してください。
status-signed-in = サインインしました。

welcome = ようこそ、{ $name } さん
claims-caption = プロフィール
idle-warning = あと { $time } でサインアウトします。サインインしたままにするには、いずれかのキーを押してください。

# アプリへ進むサインイン済み画面（APP_URL）。
button-continue = 続ける
continue-note = { $seconds ->
    [0] アプリに移動しています…
   *[other] { $seconds } 秒後にアプリに移動します…
}

# アプリがこのテレビをサインアウトさせるためにリンクするページ。
sign-out-page-title = サインアウト
sign-out-question = このテレビをサインアウトしますか？
signed-in-as = { $name } としてサインイン中
button-back-to-app = アプリに戻る
not-signed-in = このテレビはサインインしていません

# テレビのページの最初の読み込みに失敗したときの表示
error-no-session = この画面でサインインするには Cookie が必要です。ページを再読み込みしてください。
error-internal = 問題が発生しました。しばらくしてからもう一度お試しください。
